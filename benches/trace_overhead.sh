#!/usr/bin/env bash
# What deciding every exec costs, side by side in one hyperfine run, each
# traced run against the same run with `exec_tree: off`:
#   guard -c 'for i in $(seq 500); do /bin/true; done'   (target <= 1.15)
#   guard -c 'make -j2' of a small C project (8 files)    (target <= 1.10)
# Embedded mode (guard is the tracer of its child), and with ROOT=1 also
# broker mode (the broker is the tracer), the same pairs.
#
# Usage: benches/trace_overhead.sh [RUNS]   (needs hyperfine, cc, make)
#   SKIP_BUILD=1   use target/release/guard as it is
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
command -v hyperfine >/dev/null || { echo "trace_overhead.sh: hyperfine is required" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
guard=$PWD/target/release/guard

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
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" "${cmds[@]}" >&2

python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = ["500 x /bin/true", "make -j2 (8 files)"]
print(f"{'run':<22} {'untraced ms':>12} {'traced ms':>10} {'ratio':>6}")
for name, (off, on) in zip(names, zip(r[0::2], r[1::2])):
    print(f"{name:<22} {off['median']*1000:>12.1f} {on['median']*1000:>10.1f} {on['median']/off['median']:>6.2f}")
PY
