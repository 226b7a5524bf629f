#!/usr/bin/env python3
"""Summarize a scripts/bench-peers.sh results directory as markdown tables and summary.json.

Usage: bench-report.py RESULTS_DIR

Reads RESULTS_DIR/meta.json, RESULTS_DIR/raw/<corpus>-<place>-r<N>.json (hyperfine exports,
one run per command per round), RESULTS_DIR/raw/<corpus>-<place>-fidelity.json and
RESULTS_DIR/raw/probe*-fidelity.json (scripts/tree-fidelity.py results of round 0) and prints:
what each copier keeps (measured on the probe tree); the best run of each copier at its best
worker count; the medians of every tool with its speedup over `cp -a` (t_cp / t), its time
relative to the floor copier and what it kept of that corpus; and the worker-count sweeps as
throughput (files/s, or MB/s for the large corpus). Copies with wrong content and failed runs
are listed first. Writes RESULTS_DIR/summary.json for scripts/plot-bench.py.
"""

import contextlib
import glob
import importlib.util
import io
import json
import os
import re
import statistics
import sys

PLACES = {"tmpfs": "tmpfs → tmpfs", "ext4": "ext4 → fresh ext4 (warm)",
          "cold": "ext4 → fresh ext4 (cold cache)"}
CORPORA = ["small", "source", "large", "flat"]
PEERS = ["cp -a", "tar | tar", "rsync -a", "floor (2 threads)", "read only (cat)"]
# Copiers timed at several worker counts, one row each: (family, pattern of the row's name).
FAMILIES = [("cpz", r"cpz \((\d+) CPUs?\)"), ("fcp", r"fcp \((\d+) threads?\)"),
            ("xcp", r"xcp -w (\d+)"), ("dcp", r"dcp -np (\d+)"),
            ("treecopy-mpi", r"treecopy-mpi -np (\d+)"), ("treecopy", r"treecopy -j (\d+)"),
            ("treecopy base", r"treecopy base -j (\d+)")]
FIDELITY_COLS = [("content", "content"), ("modes", "modes"), ("dir_modes", "dir modes"),
                 ("times", "times"), ("dir_times", "dir times"), ("owner", "owner"),
                 ("xattrs", "xattrs"), ("hard_links", "hard links"), ("symlinks", "symlinks"),
                 ("link_times", "symlink times"), ("fifos", "FIFOs")]
TIMES = ("times", "dir_times", "link_times")


def family_of(name):
    """(family, worker count) of a swept row; (name, None) for the others."""
    for fam, pat in FAMILIES:
        m = re.fullmatch(pat, name)
        if m:
            return fam, int(m.group(1))
    return name, None


def jobs_of(name):
    fam, n = family_of(name)
    return n if fam == "treecopy" else None


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
    # Older results hold <corpus>-<place>-check.json: a word per tool instead of a measurement.
    for kind in ("check", "fidelity"):
        for path in glob.glob(os.path.join(results, "raw", f"*-{kind}.json")):
            base = os.path.basename(path)
            m = re.fullmatch(rf"(\w+)-(\w+)-{kind}\.json", base)
            if m and not base.startswith("probe"):
                checks[(m.group(1), m.group(2))] = json.load(open(path))
    return data, failures, checks


def load_probe(results):
    """{tool: tree-fidelity result} of the probe tree; cpz's comes from the tree without FIFO."""
    probe = {}
    for name, no_fifo in (("probe-fidelity.json", False), ("probe-nofifo-fidelity.json", True)):
        path = os.path.join(results, "raw", name)
        if os.path.exists(path):
            for tool, res in json.load(open(path)).items():
                probe[tool] = dict(res, no_fifo=no_fifo)
    return probe


def tool_order(names):
    peers = [p for p in PEERS if p in names]
    swept = sorted((n for n in names if family_of(n)[1]),
                   key=lambda n: ([f for f, _ in FAMILIES].index(family_of(n)[0]), family_of(n)[1]))
    return peers + swept + sorted(set(names) - set(peers) - set(swept))


def fidelity_module():
    """scripts/tree-fidelity.py, whose summary() words a result the same way everywhere."""
    spec = importlib.util.spec_from_file_location(
        "tree_fidelity", os.path.join(os.path.dirname(os.path.abspath(__file__)), "tree-fidelity.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FIDELITY = fidelity_module()


def kept_text(res):
    """What a round-0 result says about a copy, for a table cell."""
    if not isinstance(res, dict):
        return res or "?"  # older results: "ok", "differs"...
    if "status" in res:
        if res["status"] == "failed":
            return f"**FAILED** (exit {res.get('exit', '?')})"
        return res["status"]
    text = FIDELITY.summary(res) if "content" in res else res.get("summary", "?")
    return f"**{text}**" if text.startswith("CONTENT WRONG") else text


def fidelity_cell(res, attr, no_fifo):
    r = res.get(attr)
    if r is None:
        return "?"
    if not r["checked"]:
        return "hangs, not tried" if attr == "fifos" and no_fifo else "–"
    if not r["wrong"]:
        return "✓"
    if attr in TIMES and r.get("seconds") == r["wrong"]:
        return "to the second"
    if r["wrong"] == r["checked"]:
        return "**✗ WRONG**" if attr == "content" else "✗"
    return f"{'**WRONG** ' if attr == 'content' else ''}{r['wrong']} of {r['checked']} ✗"


def print_fidelity(probe):
    """The table of what each copier keeps, one row per copier (per worker count where they
    differ)."""
    if not probe:
        return
    print("## What each copier keeps\n")
    print("Measured on a probe tree (`scripts/tree-fidelity.py probe`: modes with set-id and "
          "sticky bits, read-only and private directories, owners other than root, xattrs, hard "
          "links, symlinks, a FIFO, nanosecond times) copied once on tmpfs by every copier: ✓ kept, "
          "✗ lost, \"to the second\" = times cut to whole seconds, \"n of m ✗\" = some lost, "
          "– = not in the tree. cpz gets the tree without its FIFO (it hangs on one).\n")
    print("| copier | " + " | ".join(label for _, label in FIDELITY_COLS) + " | in short |")
    print("|---|" + "---|" * (len(FIDELITY_COLS) + 1))
    groups = {}
    for tool in tool_order(list(probe)):
        res = probe[tool]
        if "status" in res:
            cells = ("",) * len(FIDELITY_COLS) + (kept_text(res),)
        else:
            cells = tuple(fidelity_cell(res, a, res["no_fifo"]) for a, _ in FIDELITY_COLS)
            cells += (kept_text(res),)
        groups.setdefault((family_of(tool)[0], cells), []).append(tool)
    for (fam, cells), tools in groups.items():
        same = [t for (f, _), ts in groups.items() if f == fam for t in ts]
        label = fam + (" (every worker count)" if len(same) > 1 else "") \
            if len(tools) == len(same) else ", ".join(tools)
        print(f"| {md(label)} | " + " | ".join(md(c) for c in cells) + " |")
    print()


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


def print_alarms(checks, probe, failures):
    """Copies with wrong content, failed copiers and failed timed runs, before anything else."""
    bad = []
    for (corpus, place), tools in sorted(checks.items()):
        for tool, res in tools.items():
            text = kept_text(res)
            if "WRONG" in text or "FAILED" in text or text == "differs":
                bad.append(f"{corpus} on {place}: {tool}: {text}")
    for tool, res in probe.items():
        text = kept_text(res)
        if "WRONG" in text or "FAILED" in text:
            bad.append(f"probe tree: {tool}: {text}")
    for (corpus, place, tool), n in sorted(failures.items()):
        bad.append(f"{corpus} on {place}: {tool}: {n} timed run(s) failed")
    if bad:
        print("## ⚠ WRONG COPIES AND FAILURES\n")
        print("A copier listed here did not do the job: its times are not comparable.\n")
        for b in bad:
            print(f"- {md(b)}")
        print()


def best_rows(rows):
    """{family: the row of its best median} among one corpus and place's rows."""
    best = {}
    for r in rows:
        fam = r["family"]
        if fam not in best or r["median_s"] < best[fam]["median_s"]:
            best[fam] = r
    return best


def print_best(rows, probe, places):
    """Per place: each copier at its best worker count, one column per corpus."""
    if not any(r["workers"] and r["family"] != "treecopy" for r in rows):
        return
    print("## Best of each copier\n")
    print("Each copier at its fastest worker count (in brackets) on that corpus: median seconds and "
          "speedup over `cp -a`; \"keeps\" as measured on the probe tree (table above).\n")
    probe_text = {}
    for tool, res in probe.items():
        probe_text.setdefault(family_of(tool)[0], kept_text(res))
    for place in places:
        mine = [r for r in rows if r["place"] == place]
        corpora = [c for c in CORPORA if any(r["corpus"] == c for r in mine)]
        per = {c: best_rows([r for r in mine if r["corpus"] == c]) for c in corpora}
        order = PEERS + [f for f, _ in FAMILIES]
        fams = sorted({r["family"] for r in mine} - {"read only (cat)"},
                      key=lambda f: (order.index(f) if f in order else len(order), f))
        print(f"### {PLACES.get(place, place)}\n")
        print("| copier | keeps | " + " | ".join(corpora) + " |")
        print("|---|---|" + "---:|" * len(corpora))
        for fam in fams:
            cells = []
            for c in corpora:
                r = per[c].get(fam)
                if not r:
                    cells.append("–")
                    continue
                at = f" ({r['workers']})" if r["workers"] else ""
                vs = f" ×{r['speedup_vs_cp']:.2f}" if r["speedup_vs_cp"] else ""
                cells.append(f"{fmt_s(r['median_s'])} s{vs}{at}")
            print(f"| {md(fam)} | {md(probe_text.get(fam, '?'))} | " + " | ".join(cells) + " |")
        print()


def print_place_table(key, tools, meta, failures, check):
    """The table of every tool on one corpus and place; returns its rows."""
    corpus, place = key
    med = {n: statistics.median(ts) for n, ts in tools.items()}
    cp = med.get("cp -a")
    floor = med.get("floor (2 threads)")
    print(f"## {corpus} — {PLACES.get(place, place)}\n")
    print("| tool | median s | min–max s | runs | throughput | vs cp -a | vs floor | kept of this corpus |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for n in tool_order(list(tools)):
        t = med[n]
        r, unit = rate(corpus, meta, t)
        fails = failures.get(key + (n,), 0)
        fam, workers = family_of(n)
        row = {"corpus": corpus, "place": place, "tool": n, "family": fam, "workers": workers,
               "jobs": jobs_of(n), "median_s": t,
               "min_s": min(tools[n]), "max_s": max(tools[n]), "runs": len(tools[n]),
               "failed_runs": fails, "throughput": r, "unit": unit,
               "speedup_vs_cp": cp / t if cp else None,
               "vs_floor": t / floor if floor else None, "check": kept_text(check.get(n)),
               "fidelity": check.get(n) if isinstance(check.get(n), dict) else None}
        rows.append(row)
        print(f"| {md(n)} | {fmt_s(t)} | {fmt_s(row['min_s'])}–{fmt_s(row['max_s'])} | "
              f"{row['runs']}{f' ({fails} failed)' if fails else ''} | {r:,.0f} {unit} | "
              f"{'×%.2f' % row['speedup_vs_cp'] if cp else '–'} | "
              f"{'%.2f' % row['vs_floor'] if floor else '–'} | {md(row['check'])} |")
    for tool, res in check.items():
        if tool not in tools and isinstance(res, dict) and "status" in res:
            print(f"| {md(tool)} | – | – | 0 | – | – | – | {md(kept_text(res))} |")
    ours = [x for x in rows if x["jobs"]]
    if ours and cp:
        best = min(ours, key=lambda x: x["median_s"])
        print(f"\nBest treecopy: -j {best['jobs']}, ×{best['speedup_vs_cp']:.2f} vs cp -a"
              + (f", {best['vs_floor']:.2f}× the floor's time" if floor else "") + ".")
    print()
    return rows


def print_jobs_sweep(data, keys, meta):
    sweep = [k for k in keys if any(jobs_of(n) for n in data[k])]
    if not sweep:
        return
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


def print_peer_sweeps(rows):
    """Throughput of every peer copier at each worker count it ran with."""
    swept = [r for r in rows if r["workers"] and r["family"] != "treecopy"]
    if not swept:
        return
    ns = sorted({r["workers"] for r in swept})
    fams = [f for f, _ in FAMILIES if any(r["family"] == f for r in swept)]
    print("## Peer copiers' worker-count sweeps (throughput at the median time)\n")
    print("Workers: CPUs cpz may run on (taskset), fcp's RAYON_NUM_THREADS, xcp -w, dcp's MPI "
          "processes (-np).\n")
    print("| copier | corpus | place | " + " | ".join(str(n) for n in ns) + " | best |")
    print("|---|---|---|" + "---:|" * (len(ns) + 1))
    for fam in fams:
        for key in dict.fromkeys((r["corpus"], r["place"]) for r in swept if r["family"] == fam):
            mine = {r["workers"]: r for r in swept if r["family"] == fam
                    and (r["corpus"], r["place"]) == key}
            best = min(mine.values(), key=lambda r: r["median_s"])
            cells = [f"{mine[n]['throughput']:,.0f}" if n in mine else "–" for n in ns]
            print(f"| {fam} | {key[0]} ({best['unit']}) | {key[1]} | " + " | ".join(cells) +
                  f" | {best['workers']} |")
    print()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = sys.argv[1]
    meta = json.load(open(os.path.join(results, "meta.json")))
    data, failures, checks = load(results)
    probe = load_probe(results)
    keys = sorted(data, key=lambda k: (list(PLACES).index(k[1]) if k[1] in PLACES else 9,
                                       CORPORA.index(k[0]) if k[0] in CORPORA else 9))
    summary = {"meta": meta, "results": [], "probe_fidelity": probe}

    print(f"# treecopy vs peers, {meta['date']}\n")
    print(f"Machine: {meta['cpu']}, {meta['cores']} cores, {meta['mem_gib']} GiB RAM, "
          f"Linux {meta['kernel']}, load average at start {meta.get('loadavg_at_start', '?')}. treecopy {meta.get('treecopy_commit', '?')}; "
          f"{meta['cp_version']}; {meta['tar_version']}; {meta['rsync_version']}"
          f"{'; ' + meta['peer_versions'] if meta.get('peer_versions') else ''}.\n")
    print(f"Command: `{meta['command']}`\n")
    corp = ", ".join(f"{n}: {c['files']} files, {c['dirs']} dirs, {c['symlinks']} symlinks, "
                     f"{c['bytes'] / 1e6:.0f} MB (scale {c['scale']})"
                     for n, c in meta["corpora"].items())
    print(f"Corpora (scripts/make-corpus.py, seed {meta['seed']}): {corp}.\n")
    print_alarms(checks, probe, failures)
    print_fidelity(probe)

    # The per-place tables come after the summaries, printed into a buffer first.
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print("Median wall time in seconds of the counted runs (tools alternating, destination "
              "recreated before each run); ×N = speedup over `cp -a` (t_cp / t, higher is better); "
              "floor = time / time of the 2-thread floor copier (lower is better, 1.0 = as fast as "
              "the floor); \"kept of this corpus\" = what round 0 found in the copy (an attribute "
              "the corpus does not hold, such as owners other than root, is not judged).\n")
        for key in keys:
            summary["results"].extend(print_place_table(key, data[key], meta, failures,
                                                        checks.get(key, {})))
        print_jobs_sweep(data, keys, meta)
        print_peer_sweeps(summary["results"])
    print_best(summary["results"], probe, [p for p in PLACES if any(k[1] == p for k in keys)])
    print(buf.getvalue(), end="")

    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
