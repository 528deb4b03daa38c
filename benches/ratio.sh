#!/usr/bin/env bash
# Whole-process start-up cost of guard against bash, side by side in one
# hyperfine run: `guard -c true` / `bash -c true`, with the shipped packs
# plus 300 generated rules loaded (GUARD_CONFIG). Also shows `env bash -c
# true` (a bare exec wrapper) and `sudo -n true` when sudo is installed.
#
# Usage: benches/ratio.sh [RUNS]   (needs hyperfine and a release build)
#   GUARD_BEFORE=/path/to/older/guard  also times an older build, same run
#   SKIP_BUILD=1                       use target/release/guard as it is
#   GUARD_AUDIT='{ supervise: true }'  adds that `audit:` setting to the config
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-500}
command -v hyperfine >/dev/null || { echo "ratio.sh: hyperfine is required (apt-get install hyperfine)" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
guard=$PWD/target/release/guard

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo "# 300 generated rules: distinct programs, flags and regexes"
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
    examples:
      match: ["tool$i deploy prod-$i"]
      no_match: ["echo tool$i"]
RULE
  done
  if [ -n "${GUARD_AUDIT:-}" ]; then echo "audit: $GUARD_AUDIT"; fi
} > "$work/config.yaml"

export GUARD_CONFIG=$work/config.yaml GUARD_STATE_DIR=$work/state
"$guard" rules lint >/dev/null   # validates the file and warms the cache
"$guard" -c true

cmds=("bash -c true" "$guard -c true" "env bash -c true")
if [ -n "${GUARD_BEFORE:-}" ]; then
  "$GUARD_BEFORE" rules lint >/dev/null
  "$GUARD_BEFORE" -c true
  cmds+=("$GUARD_BEFORE -c true")
fi
if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  cmds+=("sudo -n true")
fi
hyperfine -N --warmup 50 --runs "$runs" --export-json "$work/h.json" "${cmds[@]}" >&2

python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["median"]
print(f"{'command':<40} {'median ms':>10} {'ratio':>7}")
for x in r:
    first = x["command"].split()[0]
    name = x["command"].replace(first, first if "/" not in first else first.split("/")[-3] + "/" + first.split("/")[-1], 1)
    print(f"{name:<40} {x['median']*1000:>10.3f} {x['median']/base:>7.2f}")
PY
