#!/usr/bin/env python3
"""Summarize a scripts/bench-peers.sh results directory as markdown tables and summary.json.

Usage: bench-report.py RESULTS_DIR

Reads RESULTS_DIR/meta.json and RESULTS_DIR/raw/<corpus>-<place>-r<N>.json (hyperfine exports,
one run per command per round) and prints: the medians of every tool with its speedup over
`cp -a` (t_cp / t) and treecopy's time relative to the floor copier; and the treecopy -j sweep
as throughput (files/s, or MB/s for the large corpus). Writes RESULTS_DIR/summary.json for
scripts/plot-bench.py.
"""

import glob
import json
import os
import re
import statistics
import sys

PLACES = {"tmpfs": "tmpfs → tmpfs", "ext4": "ext4 → fresh ext4 (warm)",
          "cold": "ext4 → fresh ext4 (cold cache)"}
CORPORA = ["small", "source", "large", "flat"]
PEERS = ["cp -a", "tar | tar", "rsync -a", "floor (2 threads)", "read only (cat)"]


def jobs_of(name):
    m = re.fullmatch(r"treecopy -j (\d+)", name)
    return int(m.group(1)) if m else None


def load(results):
    """{(corpus, place): {tool: [seconds, ...]}}, failed runs left out and counted."""
    data, failures, checks = {}, {}, {}
    for path in glob.glob(os.path.join(results, "raw", "*-r*.json")):
        m = re.fullmatch(r"(\w+)-(\w+)-r(\d+)\.json", os.path.basename(path))
        if not m:
            continue
        key = (m.group(1), m.group(2))
        for r in json.load(open(path))["results"]:
            for t, code in zip(r["times"], r.get("exit_codes") or [0] * len(r["times"])):
                if code == 0:
                    data.setdefault(key, {}).setdefault(r["command"], []).append(t)
                else:
                    failures[key + (r["command"],)] = failures.get(key + (r["command"],), 0) + 1
    for path in glob.glob(os.path.join(results, "raw", "*-check.json")):
        m = re.fullmatch(r"(\w+)-(\w+)-check\.json", os.path.basename(path))
        if m:
            checks[(m.group(1), m.group(2))] = json.load(open(path))
    return data, failures, checks


def tool_order(names):
    peers = [p for p in PEERS if p in names]
    ours = sorted((n for n in names if jobs_of(n)), key=jobs_of)
    return peers + ours + sorted(set(names) - set(peers) - set(ours))


def md(text):
    """Text for a markdown table cell."""
    return text.replace("|", "\\|")


def fmt_s(t):
    return f"{t:.3f}" if t < 10 else f"{t:.2f}"


def rate(corpus, meta, t):
    """Throughput and its unit: MB/s for the large corpus, files/s for the others."""
    c = meta["corpora"][corpus]
    if corpus == "large":
        return c["bytes"] / 1e6 / t, "MB/s"
    return c["files"] / t, "files/s"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = sys.argv[1]
    meta = json.load(open(os.path.join(results, "meta.json")))
    data, failures, checks = load(results)
    keys = sorted(data, key=lambda k: (list(PLACES).index(k[1]) if k[1] in PLACES else 9,
                                       CORPORA.index(k[0]) if k[0] in CORPORA else 9))
    summary = {"meta": meta, "results": []}

    print(f"# treecopy vs peers, {meta['date']}\n")
    print(f"Machine: {meta['cpu']}, {meta['cores']} cores, {meta['mem_gib']} GiB RAM, "
          f"Linux {meta['kernel']}, load average at start {meta.get('loadavg_at_start', '?')}. treecopy {meta.get('treecopy_commit', '?')}; "
          f"{meta['cp_version']}; {meta['tar_version']}; {meta['rsync_version']}.\n")
    print(f"Command: `{meta['command']}`\n")
    corp = ", ".join(f"{n}: {c['files']} files, {c['dirs']} dirs, {c['symlinks']} symlinks, "
                     f"{c['bytes'] / 1e6:.0f} MB (scale {c['scale']})"
                     for n, c in meta["corpora"].items())
    print(f"Corpora (scripts/make-corpus.py, seed {meta['seed']}): {corp}.\n")
    print("Median wall time in seconds of the counted runs (tools alternating, destination "
          "recreated before each run); ×N = speedup over `cp -a` (t_cp / t, higher is better); "
          "floor = time / time of the 2-thread floor copier (lower is better, 1.0 = as fast as the floor).\n")

    for key in keys:
        corpus, place = key
        tools = data[key]
        med = {n: statistics.median(ts) for n, ts in tools.items()}
        cp = med.get("cp -a")
        floor = med.get("floor (2 threads)")
        check = checks.get(key, {})
        print(f"## {corpus} — {PLACES.get(place, place)}\n")
        print("| tool | median s | min–max s | runs | throughput | vs cp -a | vs floor | check |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        rows = []
        for n in tool_order(list(tools)):
            t = med[n]
            r, unit = rate(corpus, meta, t)
            fails = failures.get(key + (n,), 0)
            row = {"corpus": corpus, "place": place, "tool": n, "jobs": jobs_of(n), "median_s": t,
                   "min_s": min(tools[n]), "max_s": max(tools[n]), "runs": len(tools[n]),
                   "failed_runs": fails, "throughput": r, "unit": unit,
                   "speedup_vs_cp": cp / t if cp else None,
                   "vs_floor": t / floor if floor else None, "check": check.get(n, "?")}
            rows.append(row)
            print(f"| {md(n)} | {fmt_s(t)} | {fmt_s(row['min_s'])}–{fmt_s(row['max_s'])} | "
                  f"{row['runs']}{f' ({fails} failed)' if fails else ''} | {r:,.0f} {unit} | "
                  f"{'×%.2f' % row['speedup_vs_cp'] if cp else '–'} | "
                  f"{'%.2f' % row['vs_floor'] if floor else '–'} | {row['check']} |")
        ours = [x for x in rows if x["jobs"]]
        if ours and cp:
            best = min(ours, key=lambda x: x["median_s"])
            print(f"\nBest treecopy: -j {best['jobs']}, ×{best['speedup_vs_cp']:.2f} vs cp -a"
                  + (f", {best['vs_floor']:.2f}× the floor's time" if floor else "") + ".")
        print()
        summary["results"].extend(rows)

    sweep = [k for k in keys if any(jobs_of(n) for n in data[k])]
    if sweep:
        js = sorted({jobs_of(n) for k in sweep for n in data[k] if jobs_of(n)})
        print("## treecopy worker-count sweep (throughput at the median time)\n")
        print("| corpus | place | " + " | ".join(f"-j {j}" for j in js) + " | -j 2 / -j 1 | cp -a |")
        print("|---|---|" + "---:|" * (len(js) + 2))
        for key in sweep:
            corpus, place = key
            med = {n: statistics.median(ts) for n, ts in data[key].items()}
            cells = []
            for j in js:
                t = med.get(f"treecopy -j {j}")
                cells.append(f"{rate(corpus, meta, t)[0]:,.0f}" if t else "–")
            t1, t2 = med.get("treecopy -j 1"), med.get("treecopy -j 2")
            cp = med.get("cp -a")
            unit = rate(corpus, meta, 1)[1]
            print(f"| {corpus} ({unit}) | {place} | " + " | ".join(cells) +
                  f" | {'×%.2f' % (t1 / t2) if t1 and t2 else '–'} | "
                  f"{'%s' % format(rate(corpus, meta, cp)[0], ',.0f') if cp else '–'} |")
        print()

    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
