#!/usr/bin/env bash
# `guard audit verify` throughput on a 100,000-record chain. The records
# are real ones (a decision and an exit record written by guard itself),
# repeated with fresh seq/prev links and varied command lines so every
# line hashes differently.
#
# Usage: benches/verify_throughput.sh [RECORDS]   (needs hyperfine and a release build)
#   SKIP_BUILD=1   use target/release/guard as it is
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
command -v hyperfine >/dev/null || { echo "verify_throughput.sh: hyperfine is required" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
guard=$PWD/target/release/guard

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '# empty' > "$work/config.yaml"
GUARD_CONFIG=$work/config.yaml GUARD_STATE_DIR=$work/seed "$guard" -c 'echo template >/dev/null'

python3 - "$work/seed/audit.jsonl" "$work/audit.jsonl" "$n" <<'PY'
import hashlib, json, sys
decision, exit_ = (json.loads(l) for l in open(sys.argv[1]))
n = int(sys.argv[3])
prev = "0" * 64
with open(sys.argv[2], "w") as out:
    for seq in range(1, n + 1):
        r = dict(decision if seq % 2 else exit_)
        r["seq"], r["prev"] = seq, prev
        if seq % 2:
            r["line"] = f"echo record-{seq} >/dev/null"
        else:
            r["of"] = seq - 1
        # seq and prev first, as guard writes them.
        r = {"seq": r.pop("seq"), "prev": r.pop("prev"), **r}
        line = json.dumps(r, separators=(",", ":"), ensure_ascii=False)
        out.write(line + "\n")
        prev = hashlib.sha256(line.encode()).hexdigest()
PY
size=$(du -h "$work/audit.jsonl" | cut -f1)
GUARD_STATE_DIR=$work "$guard" audit verify "$work/audit.jsonl"
hyperfine -N --warmup 1 --runs 10 --export-json "$work/h.json" \
  "$guard audit verify $work/audit.jsonl" >&2
python3 - "$work/h.json" "$n" "$size" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
n = int(sys.argv[2])
print(f"{n} records ({sys.argv[3]}): median {r['median']*1000:.1f} ms, "
      f"{n / r['median']:,.0f} records/s")
PY
