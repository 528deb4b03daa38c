#!/usr/bin/env bash
# What deciding every exec costs, side by side in one hyperfine run, each
# traced run against the same run with `exec_tree: off`:
#   guard -c 'for i in $(seq 500); do /bin/true; done'   (target <= 1.15)
#   guard -c 'make -j2' of a small C project (8 files)    (target <= 1.10)
# Embedded mode (guard is the tracer of its child).
#
# Beside them, the floor: the same two runs under plain bash, and under
# benches/floor_tracer.c, which traces with guard's filter, options and
# reads but decides nothing. Its ratio is what the mechanism alone costs
# on this machine; guard's ratio less the floor's is guard's own work.
#
# Usage: benches/trace_overhead.sh [RUNS]   (needs hyperfine, cc, make)
#   SKIP_BUILD=1   use target/release/guard as it is
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
command -v hyperfine >/dev/null || { echo "trace_overhead.sh: hyperfine is required" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
guard=$PWD/target/release/guard
command -v cc >/dev/null || { echo "trace_overhead.sh: cc is required" >&2; exit 2; }

work=$(mktemp -d /tmp/guard-trace-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/proj"
for i in $(seq 1 8); do
  cat > "$work/proj/f$i.c" <<C
#include <stdio.h>
int f$i(int x) { int s = 0; for (int k = 0; k < x; k++) s += k * $i; return s; }
C
done
{
  echo '#include <stdio.h>'
  for i in $(seq 1 8); do echo "int f$i(int);"; done
  echo 'int main(void) { int s = 0;'
  for i in $(seq 1 8); do echo "  s += f$i(10);"; done
  echo '  printf("%d\n", s); return 0; }'
} > "$work/proj/main.c"
cat > "$work/proj/Makefile" <<'MK'
SRC := $(wildcard *.c)
OBJ := $(SRC:.c=.o)
app: $(OBJ)
	$(CC) -o $@ $(OBJ)
%.o: %.c
	$(CC) -O1 -c -o $@ $<
clean:
	rm -f app $(OBJ)
.PHONY: clean
MK
cc -O2 -o "$work/floor" benches/floor_tracer.c
printf 'approval: {tty: false}\nexec_tree: on\n' > "$work/on.yaml"
printf 'approval: {tty: false}\nexec_tree: off\n' > "$work/off.yaml"
loop='for i in $(seq 500); do /bin/true; done'
build="make -s -C $work/proj clean && make -s -C $work/proj -j2"
export GUARD_STATE_DIR=$work/state
cmds=()
for mode in off on; do
  cmds+=("env GUARD_CONFIG=$work/$mode.yaml $guard -c '$loop'")
done
for mode in off on; do
  cmds+=("env GUARD_CONFIG=$work/$mode.yaml $guard -c '$build'")
done
for run in "$loop" "$build"; do
  cmds+=("/bin/bash -c '$run'" "$work/floor /bin/bash -c '$run'")
done
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" "${cmds[@]}" >&2

python3 - "$work/h.json" <<'PY'
import json, sys
r = [x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]]
names = ["500 x /bin/true", "make -j2 (8 files)"]
guard = [(r[0], r[1]), (r[2], r[3])]
floor = [(r[4], r[5]), (r[6], r[7])]
print(f"{'run':<20} {'untraced ms':>11} {'traced ms':>9} {'ratio':>5}   {'bash ms':>7} {'floor ms':>8} {'floor':>5}")
for name, (off, on), (bash, fl) in zip(names, guard, floor):
    print(f"{name:<20} {off:>11.1f} {on:>9.1f} {on/off:>5.2f}   {bash:>7.1f} {fl:>8.1f} {fl/bash:>5.2f}")
PY
