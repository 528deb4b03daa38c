#!/usr/bin/env bash
# Broker mode against bash, side by side in one hyperfine run, with the
# shipped packs plus 300 generated rules in the broker and the audit on
# (the broker's default flush, interval):
#   guard -c 'ls /'                     vs bash -c 'ls /'        (target <= 1.0)
#   guard -c 'cd /tmp && ls | head -1'  vs the same in bash      (target <= 1.3)
#   guard -c true                       vs bash -c true
# The broker runs as its own user (`guard`, created if missing) on a temp
# socket; the client is a fresh `guard` process per run, as an agent's
# harness starts one per command. `guard` is laid out as install.sh lays
# it out: the shell front (guard-shell) as bin/guard, the full binary as
# libexec/guard/guard. FULL_CLIENT=1 adds the same rows for the full
# binary as the client, for comparison.
#
# Usage: sudo benches/broker_ratio.sh [RUNS]   (needs root, hyperfine, setpriv)
#   SKIP_BUILD=1       use target/release/guard as it is
#   EXEC_TREE=off      run the broker with exec_tree: off (no tracing)
#   PAUSE=SECONDS      keep the broker up that long before the run, for
#                      profiling it (perf record -p); the work dir, with
#                      client.yaml, is written to /tmp/bench-work
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-500}
[ "$(id -u)" -eq 0 ] || { echo "broker_ratio.sh: run as root (it starts the broker as user guard)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "broker_ratio.sh: hyperfine is required (apt-get install hyperfine)" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
id guard >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /var/lib/guard --shell /usr/sbin/nologin guard

work=$(mktemp -d /tmp/guard-bench.XXXXXX)
chmod 755 "$work"
install -D -m 0755 target/release/guard "$work/libexec/guard/guard"
install -D -m 0711 target/release/guard-shell "$work/bin/guard"
full=$work/libexec/guard/guard
guard=$work/bin/guard
install -d -o guard -g guard -m 0700 "$work/state" "$work/audit" "$work/private"
install -d -o guard -g guard -m 0755 "$work/run"
cleanup() {
  [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
{
  echo "# 300 generated rules: distinct programs, flags and regexes"
  echo "approval: {tty: false}"
  echo "exec_tree: ${EXEC_TREE:-on}"
  echo "rules:"
  for i in $(seq 1 300); do
    cat <<RULE
  - id: bench.gen-$i
    description: generated rule $i
    match:
      program: [tool$i, "tool$i-cli"]
      subcommand: ["deploy", "push env$i"]
      args_regex: "(?i)(prod|live)-$i\\\\b"
    action: review
    risk: medium
    message: "tool$i: generated rule $i[ for {flag:--env}]"
RULE
  done
} > "$work/private/broker.yaml"
chown guard:guard "$work/private/broker.yaml"
chmod 600 "$work/private/broker.yaml"
printf 'broker: %s\nbroker_user: guard\n' "$work/run/broker.sock" > "$work/client.yaml"
chmod 644 "$work/client.yaml"

setpriv --reuid=guard --regid=guard --init-groups --inh-caps=+sys_ptrace,+dac_read_search --ambient-caps=+sys_ptrace,+dac_read_search \
  "$full" broker --socket "$work/run/broker.sock" --config "$work/private/broker.yaml" \
  --state-dir "$work/state" --audit-dir "$work/audit" 2> "$work/broker.log" &
broker_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/broker.log" 2>/dev/null && break; sleep 0.05; done
grep -q "listening on" "$work/broker.log" || { cat "$work/broker.log" >&2; exit 1; }

export GUARD_CONFIG=$work/client.yaml GUARD_STATE_DIR=$work/client-state
cd /tmp
"$guard" -c true
"$guard" -c 'ls /' >/dev/null

[ -n "${PAUSE:-}" ] && { echo "$work" > /tmp/bench-work; sleep "$PAUSE"; }
rows=("bash -c 'ls /'" "$guard -c 'ls /'"
      "bash -c 'cd /tmp && ls | head -1'" "$guard -c 'cd /tmp && ls | head -1'"
      "bash -c true" "$guard -c true")
if [ -n "${FULL_CLIENT:-}" ]; then
  rows+=("bash -c 'ls /'" "$full -c 'ls /'"
         "bash -c 'cd /tmp && ls | head -1'" "$full -c 'cd /tmp && ls | head -1'"
         "bash -c true" "$full -c true")
fi
hyperfine -N --warmup 30 --runs "$runs" --export-json "$work/h.json" "${rows[@]}" >&2

records=$(grep -c '"kind":"decision"' "$work/audit/audit.jsonl" || true)
python3 - "$work/h.json" "$records" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(f"{'command':<44} {'median ms':>10} {'vs bash':>8}")
for bash, guard in zip(r[0::2], r[1::2]):
    for x, ratio in ((bash, 1.0), (guard, guard["median"] / bash["median"])):
        prog = x["command"].split()[0]
        short = "guard (full client)" if prog.endswith("libexec/guard/guard") else prog.split("/")[-1]
        name = x["command"].replace(prog, short, 1)
        print(f"{name:<44} {x['median']*1000:>10.3f} {ratio:>8.2f}")
print(f"(decision records written by the broker: {sys.argv[2]})")
PY
