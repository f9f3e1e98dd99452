#!/usr/bin/env python3
"""Tables of benches/compare/run.sh's results (standard library only).

Reads the raw lines run.sh collects, `<round> <ID> <system> <metric>=<value> ...` or
`<round> <ID> <system> n/a <reason>` or `<round> <ID> <system> fails: <reason>`, and prints
one row per workload and metric, one column per system: `median (min-max) xRATIO`, the
ratio being the median over rounds of system/Go within the same round (lower is better).

A metric written `<metric>.<variant>=` (crossbeam's `ns_per_op.parking_lot=` for W9/W13)
becomes its own column, `<variant>`, compared with Go's `<metric>`.

HL (the wake-up delay of a sleeping goroutine while every P runs a CPU hog; go and goro only)
is not an anchor workload: it gets its own small table (p50/p99/max in µs, samples, and the
ratio to Go of p99), not rows in the main one.

N2 (HTTP under wrk) gets its own table too, a row per system: requests/s (higher is better,
unlike every metric of the main table), p50/p99 latency, socket errors and non-2xx responses
(summed over rounds), and the ratios to Go's net/http. Go's N2 run also prints the system
`go-min` (a minimal net+bufio server), which gets a row there and no column in the main table.

    report.py --results R --systems go,goro,... [--meta M] [--markdown docs/BENCHMARKS.md]
"""
import argparse
import collections
import os
import statistics

NAMES = {
    "W1": "spawn", "W2": "pingpong", "W3": "spsc", "W4": "mpmc", "W5": "mpmc0",
    "W6": "select", "W7": "sieve", "W8": "daisy", "W9": "mutex", "W10": "parked",
    "W11": "timers", "W12": "pipeline", "W13": "rwmutex", "N1": "echo", "N2": "http",
    "N3": "idle", "HL": "hog latency",
}

# Workloads with a table of their own instead of rows in the main one: HL's latencies and
# N2's HTTP figures (requests/s: higher is better).
LATENCY = ("HL", "N2")

# Metrics where higher is better (N2's requests/s): the plot inverts their ratio.
HIGHER_IS_BETTER = {"N2": "rps"}

# Systems that only some workloads print (Go's N2 prints go-min): a row in that workload's
# table, no column in the main one.
ONLY_IN_OWN_TABLE = ("go-min",)


def wl_key(wl):
    """Sort key: W1..W13 in numeric order, then the network workloads N1.. in numeric order,
    then the others (HL) by name."""
    if wl[1:].isdigit() and wl[0] in "WN":
        return ("WN".index(wl[0]), int(wl[1:]), "")
    return (2, 0, wl)

# What each system is, for the document.
SYSTEM_NOTES = {
    "go": "Go (gc), goroutines, channels, sync.WaitGroup/Mutex/RWMutex: the reference "
          "(benches/compare/go/); N1 and N3 over net, N2 net/http (http.HandleFunc, "
          "http.Serve), what a Go user runs.",
    "go-min": "N2 only: a minimal Go HTTP/1.1 server on net + bufio (a goroutine per "
              "connection reads request lines up to the empty one and writes a fixed "
              "response; no parsing, routing or Date header): the like-for-like Go "
              "counterpart of goro's example server, which parses its requests "
              "(benches/compare/go/network.go).",
    "goro": "goro: goroutines on goro's runtime, goro's channels and goro::sync, each "
            "workload written as the Go one; N1 and N3 over goro::net "
            "(rust/src/goro_w.rs); N2's server is the workspace example "
            "examples/http_hello.rs (goro::net, httparse, a goroutine per connection).",
    "crossbeam": "crossbeam-channel over std threads, one OS thread per goroutine; W9/W13 "
                 "std Mutex/RwLock; W1/W9/W11/W13 use no channel and stand for \"std "
                 "threads\", as do N1, a thread per connection and per client over "
                 "blocking std::net, and N3, a thread per idle connection; N2 n/a "
                 "(rust/src/crossbeam_w.rs, threads_w.rs).",
    "parking_lot": "std threads with parking_lot's Mutex/RwLock (W9/W13 only; printed by "
                   "the crossbeam run).",
    "flume": "flume over std threads; the channel workloads only (rust/src/flume_w.rs, "
             "threads_w.rs).",
    "tokio": "tokio multi-thread runtime, 2 workers; mpsc::channel(1) for unbuffered "
             "channels, shared Receiver behind a tokio Mutex for several receivers "
             "(W4/W5/W12), tokio::select!, tokio::sync Mutex/RwLock, tokio::net for N1 "
             "and N3; N2's server hyper 1.x (http1 over hyper-util's TokioIo, a task per "
             "connection) on 1 worker (rust/src/tokio_w.rs).",
    "may": "may coroutines, 2 workers; may's unbounded mpmc channel plus a semaphore "
           "for capacity (capacity 1 for unbuffered), may::sync WaitGroup/Mutex/RwLock, "
           "may::net for N1 and N3; N2's server may_minihttp on 1 worker "
           "(rust/src/may_w.rs).",
}


class Results:
    def __init__(self, path, systems):
        self.vals = collections.defaultdict(dict)  # (wl, metric) -> {(sys, round): v}
        self.na = {}  # (wl, sys) -> reason
        self.fails = {}  # (wl, sys) -> reason
        self.workloads = set()
        seen_systems = []
        self.printed = set()  # systems that printed a line
        for line in open(path):
            parts = line.split()
            if len(parts) < 4:
                continue
            rnd, wl, system = parts[0], parts[1], parts[2]
            self.workloads.add(wl)
            self.printed.add(system)
            rest = line.split(None, 3)[3].strip()
            if rest.startswith("n/a"):
                self.na[(wl, system)] = rest[3:].strip()
                continue
            if rest.startswith("fails"):
                self.fails[(wl, system)] = rest[len("fails"):].lstrip(": ").strip()
                continue
            for kv in parts[3:]:
                if "=" not in kv:
                    continue
                k, v = kv.split("=", 1)
                sys_name = system
                if "." in k:
                    k, variant = k.split(".", 1)
                    sys_name = variant
                    if variant not in seen_systems:
                        seen_systems.append(variant)
                try:
                    self.vals[(wl, k)][(sys_name, rnd)] = float(v)
                except ValueError:
                    pass
        # Variant columns go right after the system that printed them.
        self.systems = []
        for s in systems:
            self.systems.append(s)
            if s == "crossbeam":
                self.systems += [v for v in seen_systems if v not in self.systems]
            if s == "go":
                self.systems += [x for x in ONLY_IN_OWN_TABLE if x in self.printed]

    def rows(self):
        """(wl, metric) pairs of the main table, in workload order (latency measurements
        left out); workloads with no value get one row."""
        keys = [k for k in self.vals if k[0] not in LATENCY]
        have = {wl for wl, _ in keys}
        for wl in self.workloads - have - set(LATENCY):
            keys.append((wl, ""))
        return sorted(keys, key=lambda x: (wl_key(x[0]), x[1] != first_metric(self, x[0]), x[1]))

    def values(self, wl, metric, system):
        return [v for (s, _), v in self.vals.get((wl, metric), {}).items() if s == system]

    def ratio(self, wl, metric, system):
        """Median over rounds of system/go for the same metric in the same round."""
        vals = self.vals.get((wl, metric), {})
        rs = [vals[(system, r)] / vals[("go", r)] for (s, r) in vals
              if s == "go" and (system, r) in vals and vals[("go", r)] > 0]
        return statistics.median(rs) if rs else None

    def base_system(self, system):
        """The system whose run printed `system`'s n/a or fails line."""
        return "crossbeam" if system == "parking_lot" else system

    def status(self, wl, system):
        b = self.base_system(system)
        if system == "parking_lot":
            return "n/a"
        if (wl, b) in self.fails:
            return "fails"
        if (wl, b) in self.na:
            return "n/a"
        return "—"


def first_metric(res, wl):
    """A workload's headline metric: the first Go printed (else any)."""
    order = {"W10": "bytes_per_task", "N2": "rps", "N3": "bytes_per_conn"}
    if wl in order:
        return order[wl]
    ms = sorted(k for (w, k) in res.vals if w == wl)
    return ms[0] if ms else ""


def fmt(v):
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


def cell(res, wl, metric, system, ratio=True, show=fmt):
    xs = res.values(wl, metric, system)
    if not xs:
        return res.status(wl, system)
    s = show(statistics.median(xs))
    if len(xs) > 1:
        s += f" ({show(min(xs))}-{show(max(xs))})"
    if ratio and system != "go":
        r = res.ratio(wl, metric, system)
        if r is not None:
            s += f" ×{r:.2f}"
    return s


def table(res):
    systems = [s for s in res.systems if s not in ONLY_IN_OWN_TABLE]
    head = ["workload", "metric"] + systems
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl, metric in res.rows():
        cols = [f"{wl} {NAMES.get(wl, '')}", metric or "—"]
        cols += [cell(res, wl, metric, s) for s in systems]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def latency_table(res, wl="HL"):
    """HL's table: one row per system that ran it; "" if none did."""
    systems = [s for s in res.systems if s in ("go", "goro")]
    if wl not in res.workloads or not systems:
        return ""
    head = ["system", "p50 µs", "p99 µs", "max µs", "samples", "p99 ×Go"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in systems:
        cols = [s] + [cell(res, wl, m, s, ratio=False)
                      for m in ("p50_us", "p99_us", "max_us")]
        cols.append(cell(res, wl, "samples", s, ratio=False, show=lambda v: f"{v:.0f}"))
        r = res.ratio(wl, "p99_us", s) if s != "go" else None
        cols.append(f"×{r:.2f}" if r is not None else "")
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def http_table(res, wl="N2"):
    """N2's table: one row per system with figures (or failing); "" if none ran it."""
    systems = [s for s in res.systems
               if res.values(wl, "rps", s) or res.status(wl, s) == "fails"]
    if wl not in res.workloads or not systems:
        return ""
    head = ["system", "req/s", "p50 µs", "p99 µs", "socket errors", "non-2xx",
            "server CPU", "wrk CPU", "req/s ×Go", "p99 ×Go"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in systems:
        cols = [s] + [cell(res, wl, m, s, ratio=False) for m in ("rps", "p50_us", "p99_us")]
        for m in ("socket_errors", "non2xx"):
            xs = res.values(wl, m, s)
            cols.append(f"{sum(xs):.0f}" if xs else res.status(wl, s))
        for m in ("server_cpu", "wrk_cpu"):
            cols.append(cell(res, wl, m, s, ratio=False, show=lambda v: f"{v:.2f}"))
        for m in ("rps", "p99_us"):
            r = res.ratio(wl, m, s) if s != "go" else None
            cols.append(f"×{r:.2f}" if r is not None else "")
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def http_note(meta):
    setup = meta.get("n2") or ("wrk -t1 -c100 --latency, 10 s after a 1 s warm-up, pinned "
                               "to one CPU and the server (GOMAXPROCS=1 / 1 worker) to the "
                               "other with taskset")
    wrk = f" ({meta['wrk']})" if meta.get("wrk") else ""
    return (
        "N2: each system's HTTP/1.1 keep-alive \"Hello, World!\" server in its own process, "
    "started after a 5 s pause (the machine settles after the workloads before it: right "
    "after goro's W10, which touches and frees ~4.5 GB, every server measured slower), "
        f"loaded by wrk{wrk}: {setup}. Before the load a check makes two keep-alive `GET /` "
        "on one connection (status 200, body `Hello, World!`). Cells: median over rounds "
        "(min-max) of wrk's requests/s and its p50 and p99 latency; socket errors "
        "(connect, read, write, timeout) and non-2xx-or-3xx responses summed over rounds "
        "(goro's must be 0, or the run fails); server CPU and wrk CPU: the cores each used "
        "during the measured run (/proc/PID/stat, getrusage; 1.00 is its whole core), so a "
        "server well below 1.00 beside wrk near 1.00 was held back by wrk, not by itself, "
        "and both well below 1.00 means something else had the CPUs (a noisy round). "
        "req/s ×Go: median over rounds of system/Go "
        "(net/http) requests/s in the same round, **higher is better**; p99 ×Go likewise, "
        "lower is better. **go** is net/http, what a Go user runs; **go-min** is a minimal "
        "net + bufio server that does not parse requests, the like-for-like Go counterpart "
        "of goro's example server (which, unlike it, parses each request with httparse "
        "and writes a Date header).")


N3_NOTE = (
    "N3 (in the table above): 10,000 loopback connections (1,000 with --quick) accepted and "
    "held by the server, each by a task blocked reading a 64-byte buffer; bytes_per_conn is "
    "the server's RSS growth (/proc/self/statm, before the first dial and once every task is "
    "blocked) per connection, idle_bytes_per_conn the same after the connections have sat "
    "idle 3 s more (2 s with --quick; the steady state of a server holding idle keep-alive "
    "connections: goro trims the stacks of goroutines parked 1 s, Go's runtime may shrink "
    "stacks at a GC), accept_ms the time from the client's go-ahead until the last "
    "connection's task started. The client is a separate process (the same loop for every "
    "system: blocking connect(2), one at a time, at most 64 ahead of the server's accepts so "
    "no accept queue overflows), so accept_ms is bounded below by its dial rate. Then the "
    "client closes all and every read must return end-of-file.")


LATENCY_NOTE = (
    "HL is not an anchor workload, and is measured for go and goro only: GOMAXPROCS (2) "
    "hogs, tight loops of integer arithmetic that load an atomic stop flag and call nothing "
    "the scheduler could use, hold every P; after 20 ms a sleeper goroutine takes up to 300 "
    "samples of `t0 = now; sleep(1 ms); delay = now - t0 - 1 ms` (benches/compare/go/"
    "workloads.go's hlHogLatency, rust/src/goro_w.rs's hl). The hogs stop by themselves 10 s "
    "after they start and the sampling stops with them, so a scheduler that cannot preempt a "
    "hog shows few samples of about 10 s each. Cells: median over rounds (min-max) of each "
    "round's nearest-rank p50, p99 and max delay in µs, and of the number of samples; p99 "
    "×Go: the median over rounds of system/Go p99 within the same round. Lower is better.")


def reasons(res):
    out = []
    for kind, d in (("fails", res.fails), ("n/a", res.na)):
        for (wl, s), why in sorted(d.items(), key=lambda x: (wl_key(x[0][0]), x[0][1])):
            out.append(f"- {wl} {s}: {kind} — {why}")
    return "\n".join(out)


def read_meta(path):
    meta = {}
    if path and os.path.exists(path):
        for line in open(path):
            if ":" in line:
                k, v = line.split(":", 1)
                meta[k.strip()] = v.strip()
    return meta


def markdown(res, meta, path):
    quick = meta.get("quick", "")
    doc = ["# Benchmarks: goro against Go, tokio, may and channel crates over threads", ""]
    doc.append("Generated by `benches/compare/run.sh --report` (benches/compare/report.py and "
               "plot.py); do not edit by hand. The workloads are shared/bench/WORKLOADS.md's, "
               "each written per system as benches/compare/go/workloads.go writes it (same N, "
               "warm-up and result checks), each in a fresh process.")
    doc.append("")
    if quick:
        doc.append(f"**Smoke run (`--quick`: {quick}), not a measurement.** Regenerate with "
                   "`benches/compare/run.sh --rounds 5 --report` on a quiet machine.")
        doc.append("")
    doc.append("## Machine and versions")
    doc.append("")
    for k in ("date", "cpu", "memory", "kernel", "limits", "procs", "go", "rustc", "crates",
              "wrk", "n2", "goro", "rounds", "command"):
        if meta.get(k):
            v = meta[k]
            if k == "command":
                v = f"`{v}`"
            doc.append(f"- {k}: {v}")
    doc.append("")
    doc.append("## Results")
    doc.append("")
    doc.append("Each cell: median over rounds (min-max), then ×ratio to Go: the median over "
               "rounds of system/Go measured in the same round. Lower is better for every "
               "metric of this table (N2's requests/s, where higher is better, has a table "
               "of its own below). The machine is noisy: compare ratios, not absolute "
               "figures across runs.")
    doc.append("")
    if res.rows():
        doc.append(table(res))
        doc.append("")
        doc.append("![ratio to Go per workload and system](benchmarks.png)")
        doc.append("")
    if "N3" in res.workloads:
        doc.append(N3_NOTE)
        doc.append("")
    http = http_table(res)
    if http:
        doc.append("## HTTP server under wrk (N2)")
        doc.append("")
        doc.append(http_note(meta))
        doc.append("")
        doc.append(http)
        doc.append("")
    lat = latency_table(res)
    if lat:
        doc.append("## Latency under CPU hogs (HL)")
        doc.append("")
        doc.append(LATENCY_NOTE)
        doc.append("")
        doc.append(lat)
        doc.append("")
    doc.append("## Systems")
    doc.append("")
    for s in res.systems:
        doc.append(f"- **{s}**: {SYSTEM_NOTES.get(s, '')}")
    doc.append("")
    r = reasons(res)
    if r:
        doc.append("## n/a and fails")
        doc.append("")
        doc.append(r)
        doc.append("")
    with open(path, "w") as f:
        f.write("\n".join(doc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--systems", required=True)
    ap.add_argument("--meta")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    res = Results(a.results, a.systems.split(","))
    meta = read_meta(a.meta)
    if a.markdown:
        markdown(res, meta, a.markdown)
        return
    if res.rows():
        print(table(res))
        print()
    http = http_table(res)
    if http:
        print("N2: HTTP server under wrk (req/s: higher is better; ×Go against net/http)")
        print(http)
        print()
    lat = latency_table(res)
    if lat:
        print("HL: wake-up delay of a sleeping goroutine while every P runs a CPU hog")
        print(lat)
        print()
    if "go" in res.systems:
        print("cells: median (min-max) ×ratio, the ratio being the median over rounds of "
              "system/go within the same round; lower is better.")
    r = reasons(res)
    if r:
        print(r)


if __name__ == "__main__":
    main()
