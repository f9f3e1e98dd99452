#!/usr/bin/env python3
"""docs/benchmarks.png: each system's ratio to Go per workload (headline metric), log scale.

    plot.py --results R --systems go,goro,... [--meta M] --out docs/benchmarks.png

Run with benches/compare/.venv/bin/python (run.sh --report installs matplotlib there).
Bars below 1 beat Go. A workload a system cannot express (n/a) or cannot run (fails) has
no bar, and a mark at the bottom says which. The anchor workloads only (HL has its own table
in the document). N2's bar is Go's requests/s over the system's (time per request relative
to Go's net/http, so that below 1 still beats Go); go-min has a bar for N2 only.
"""
import argparse
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import (  # noqa: E402
    HIGHER_IS_BETTER, LATENCY, NAMES, ONLY_IN_OWN_TABLE, Results, first_metric, read_meta,
    wl_key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--systems", required=True)
    ap.add_argument("--meta")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    res = Results(a.results, a.systems.split(","))
    meta = read_meta(a.meta)
    # Systems that only some workloads print (go-min) last, so every other system keeps
    # its colour from plot to plot.
    systems = [s for s in res.systems if s != "go" and s not in ONLY_IN_OWN_TABLE]
    systems += [s for s in res.systems if s in ONLY_IN_OWN_TABLE]
    wls = sorted((w for w in res.workloads if w not in LATENCY or w in HIGHER_IS_BETTER),
                 key=wl_key)
    fig, ax = plt.subplots(figsize=(max(10, 1.1 * len(wls) + 2), 5.5))
    width = 0.8 / max(1, len(systems))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ymin, ymax = 0.5, 2.0
    marks = []
    for j, s in enumerate(systems):
        xs, ys = [], []
        for i, wl in enumerate(wls):
            r = res.ratio(wl, first_metric(res, wl), s)
            if r and wl in HIGHER_IS_BETTER:
                r = 1 / r
            x = i - 0.4 + width * (j + 0.5)
            if r is None:
                st = res.status(wl, s)
                if st != "—":  # "—": the system printed nothing for it (go-min)
                    marks.append((x, "fails" if st == "fails" else "n/a",
                                  colors[j % len(colors)]))
                continue
            xs.append(x)
            ys.append(r)
            ymin, ymax = min(ymin, r), max(ymax, r)
        # A system with no bar at all gets no legend entry (its marks say n/a or fails).
        ax.bar(xs, ys, width, label=s if xs else None, color=colors[j % len(colors)])
    ax.set_yscale("log")
    lo, hi = 10 ** math.floor(math.log10(ymin * 0.8)), 10 ** math.ceil(math.log10(ymax * 1.2))
    ax.set_ylim(lo, hi)
    for x, m, c in marks:
        ax.text(x, lo * 1.1, m, ha="center", va="bottom", color=c, fontsize=6, rotation=90)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(wls)))
    ax.set_xticklabels([f"{w}\n{NAMES.get(w, '')}" + ("\n(1/req/s)" if w in HIGHER_IS_BETTER
                                                     else "") for w in wls], fontsize=8)
    ax.set_ylabel("time (or bytes) relative to Go, log scale; < 1 beats Go")
    title = "goro and others vs Go, anchor workloads (median ratio over rounds)"
    sub = ", ".join(x for x in (meta.get("date"), f"{meta.get('rounds', '?')} rounds",
                                "QUICK smoke sizes" if meta.get("quick") else "") if x)
    ax.set_title(f"{title}\n{sub}", fontsize=10)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}"))
    ax.legend(fontsize=8, ncol=len(systems), loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
