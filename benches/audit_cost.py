#!/usr/bin/env python3
"""What the audit design costs on the allow path: `guard -c true` with the
supervising parent and fsync, the parent without fsync, the default
(exec-only with fsync), and exec-only without fsync, against
`bash -c true`.

The variants run round-robin, one run of each in turn, so the drift of a
noisy VM hits them all alike. Medians of wall-clock time per run, as
measured from a Python parent (which adds the same constant to each).

Usage: benches/audit_cost.py [ROUNDS]   (needs a release build)
  GUARD_BEFORE=/path/to/older/guard  also times an older build
  RULES=/path/to/rules.yaml          puts these rules in every config
"""
import os, statistics, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
guard = os.path.join(root, "target/release/guard")
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
work = tempfile.mkdtemp()

def config(name, audit):
    path = os.path.join(work, name + ".yaml")
    rules = open(os.environ["RULES"]).read() if os.environ.get("RULES") else ""
    with open(path, "w") as f:
        f.write(rules + (f"audit: {audit}\n" if audit else "# empty\n"))
    for g in [guard, os.environ.get("GUARD_BEFORE")]:
        if g:  # warm the compiled-rule cache, as ratio.sh does
            subprocess.run([g, "rules", "lint"], env=dict(os.environ, GUARD_CONFIG=path),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path

variants = [("bash -c true", ["bash", "-c", "true"], {})]
for name, audit in [("supervise: true (parent + fsync)", "{ supervise: true }"),
                    ("supervise: true, fsync: false", "{ supervise: true, fsync: false }"),
                    ("default (exec-only + fsync)", ""),
                    ("fsync: false (exec-only)", "{ fsync: false }")]:
    n = str(len(variants))
    env = {"GUARD_CONFIG": config("config-" + n, audit),
           "GUARD_STATE_DIR": os.path.join(work, "state-" + n)}
    variants.append(("guard " + name, [guard, "-c", "true"], env))
if os.environ.get("GUARD_BEFORE"):
    variants.append(("GUARD_BEFORE -c true", [os.environ["GUARD_BEFORE"], "-c", "true"],
                     {"GUARD_CONFIG": config("before", ""), "GUARD_STATE_DIR": os.path.join(work, "state-before")}))

times = {name: [] for name, _, _ in variants}
for r in range(rounds + 20):
    for name, argv, extra in variants:
        env = dict(os.environ, **extra)
        t = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL)
        if r >= 20:  # warm-up rounds
            times[name].append(time.perf_counter() - t)

base = statistics.median(times["bash -c true"])
print(f"{'variant':<44} {'median ms':>9} {'ratio':>6}")
for name, _, _ in variants:
    m = statistics.median(times[name])
    print(f"{name:<44} {m*1000:9.3f} {m/base:6.2f}")
