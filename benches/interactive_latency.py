#!/usr/bin/env python3
"""Per-line overhead of guard's interactive mode against plain bash.

Runs each shell on a real pseudo-terminal, types N lines one after the
other (`echo $((1000+i))`) and times from sending a line to seeing its
output, then reports the median for each shell and their ratio.

Usage: benches/interactive_latency.py [LINES]   (needs a release build)
"""
import os, pty, re, select, statistics, subprocess, sys, tempfile, time

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 50
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUARD = os.path.join(ROOT, "target", "release", "guard")


def spawn(argv, env):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    return pid, fd


def read_until(fd, token, timeout=15.0):
    """Read until `token` (a compiled bytes regex or bytes) appears."""
    buf = b""
    end = time.monotonic() + timeout
    found = (lambda b: token.search(b)) if hasattr(token, "search") else (lambda b: token in b)
    while not found(buf):
        left = end - time.monotonic()
        if left <= 0:
            sys.exit(f"timed out waiting for {token!r}; got {buf[-300:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                sys.exit(f"shell exited; got {buf[-300:]!r}")
            # Answer cursor-position queries as a real terminal does.
            for _ in range(chunk.count(b"\x1b[6n")):
                os.write(fd, b"\x1b[1;1R")
            buf += chunk
    return buf


def measure(argv, env, ready):
    pid, fd = spawn(argv, env)
    read_until(fd, ready)
    samples = []
    for i in range(LINES + 3):
        n = 1000 + i
        t0 = time.perf_counter()
        os.write(fd, f"echo $((1000+{i}))\r".encode())
        # The output line, not the echo of the typed line.
        read_until(fd, re.compile(rb"[\r\n]" + str(n).encode() + rb"\r\n"))
        samples.append(time.perf_counter() - t0)
        time.sleep(0.02)
    os.write(fd, b"exit\r")
    os.waitpid(pid, 0)
    return statistics.median(samples[3:]) * 1000


def main():
    if not os.access(GUARD, os.X_OK):
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.yaml")
        with open(config, "w") as f:
            f.write("# shipped packs only\n")
        base = dict(os.environ, TERM="xterm", NO_COLOR="1")
        base.pop("GUARD_SESSION", None)
        bash_env = dict(base, PS1="bash$ ")
        bash = measure(["bash", "--norc", "--noprofile", "-i"], bash_env, b"bash$ ")
        guard_env = dict(base, GUARD_CONFIG=config, GUARD_STATE_DIR=os.path.join(tmp, "state"))
        guard = measure([GUARD], guard_env, b"$ ")
    print(f"lines per shell:            {LINES}")
    print(f"bash -i, median per line:   {bash:7.2f} ms")
    print(f"guard, median per line:     {guard:7.2f} ms")
    print(f"ratio guard / bash:         {guard / bash:7.2f}")


if __name__ == "__main__":
    main()
