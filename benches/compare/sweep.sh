#!/usr/bin/env bash
# Sweeps goro's tuned numbers (runtime/src/tune.rs) on this machine: for each setting, runs
# the chosen workloads for goro only, rounds interleaved with the defaults, and prints each
# workload's median and its ratio to the defaults (the median over rounds of setting/default
# measured in the same round; lower is better).
#
#   benches/compare/sweep.sh [--rounds R] [--workloads W2,W5,...] SETTING [SETTING ...]
#
# A SETTING is a GORO_DEBUG value: `backlog=10000`, or several knobs at once,
# `stealwindow=1500+backlog=10000` (joined by `+`). The names are tune.rs's
# (runnextgrace, stealwindow, backlog, idlespinmin, idlespinmax, spinpoll, spinround,
# activespin). Example:
#
#   benches/compare/sweep.sh --rounds 5 --workloads W2,W5,W6,W9,W12 backlog=10000 backlog=40000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds=3
workloads="W1,W2,W3,W4,W5,W6,W7,W8,W9,W11,W12,W13"
settings=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --workloads) workloads="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) settings+=("$1"); shift ;;
  esac
done
[ ${#settings[@]} -gt 0 ] || { echo "sweep.sh: name at least one setting (see --help)" >&2; exit 2; }
known=" runnextgrace stealwindow backlog idlespinmin idlespinmax spinpoll spinround activespin "
for s in "${settings[@]}"; do
  for kv in ${s//+/ }; do
    k="${kv%%=*}"; v="${kv#*=}"
    if [[ "$known" != *" $k "* || ! "$v" =~ ^[0-9]+$ ]]; then
      echo "sweep.sh: $kv is not NAME=NUMBER with a NAME of tune.rs ($known)" >&2; exit 2
    fi
  done
done

echo "building goro-compare" >&2
(cd "$here/rust" && cargo build --release --quiet)
bin="${CARGO_TARGET_DIR:-$here/rust/target}/release/goro-compare"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cpuf() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'; }
cpu="$(cpuf 'model name') ($(cpuf vendor_id) family $(cpuf 'cpu family') model $(cpuf model))"
echo "cpu: $cpu, $(nproc) cores visible; rounds: $rounds; workloads: $workloads" >&2
for r in $(seq 1 "$rounds"); do
  for s in default "${settings[@]}"; do
    env=""
    [ "$s" = default ] || env="${s//+/,}"
    echo "round $r/$rounds: $s" >&2
    GORO_DEBUG="$env" "$bin" -sys goro -w "$workloads" -procs 2 2>/dev/null \
      | sed "s/^/$r $s /" >> "$out" || true
  done
done
python3 - "$out" "${settings[@]}" <<'PY'
import sys, statistics as st, collections
path, settings = sys.argv[1], sys.argv[2:]
d = collections.defaultdict(dict)          # (workload metric, round) -> setting -> value
for line in open(path):
    p = line.split()
    if len(p) < 5 or "=" not in p[4]:
        continue
    r, s, w = p[0], p[1], p[2]
    for kv in p[4:]:
        k, v = kv.split("=", 1)
        if k == "mappings":
            continue
        try:
            d[(f"{w} {k}", r)][s] = float(v)
        except ValueError:
            pass
names = sorted({k[0] for k in d}, key=lambda x: (int(x.split()[0][1:]) if x[1:2].isdigit() else 99, x))
cols = ["default"] + settings
print("| workload | " + " | ".join(cols) + " |")
print("|---|" + "---|" * len(cols))
for n in names:
    rounds = [k for k in d if k[0] == n]
    cells = []
    for s in cols:
        vals = [d[k][s] for k in rounds if s in d[k]]
        if not vals:
            cells.append("-")
            continue
        med = st.median(vals)
        if s == "default":
            cells.append(f"{med:,.1f}")
        else:
            rs = [d[k][s] / d[k]["default"] for k in rounds if s in d[k] and d[k].get("default")]
            cells.append(f"{med:,.1f} ×{st.median(rs):.2f}" if rs else f"{med:,.1f}")
    print(f"| {n} | " + " | ".join(cells) + " |")
PY
