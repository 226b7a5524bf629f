#!/usr/bin/env python3
"""Draw RESULTS_DIR/throughput.png from a bench-report.py summary.json, with gnuplot.

Usage: plot-bench.py RESULTS_DIR [OUT.png]

One panel per corpus: treecopy's throughput (files/s, MB/s for the large corpus) against its
worker count, one line per place (tmpfs, warm ext4, cold ext4); `cp -a` of the same place as a
dashed horizontal line, the floor copier as a dotted one and the fastest peer copier (cpz, fcp,
xcp or dcp at its best worker count) as a dash-dotted one, in the same colour.
Needs gnuplot (apt-get install gnuplot-nox).
"""

import json
import os
import subprocess
import sys

PLACES = [("tmpfs", "tmpfs→tmpfs", "#1f77b4"), ("ext4", "fresh ext4, warm", "#d62728"),
          ("cold", "fresh ext4, cold", "#2ca02c")]
CORPORA = ["small", "source", "large", "flat"]
PEER_COPIERS = ("cpz", "fcp", "xcp", "dcp")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    results = sys.argv[1]
    png = sys.argv[2] if len(sys.argv) == 3 else os.path.join(results, "throughput.png")
    summary = json.load(open(os.path.join(results, "summary.json")))
    rows = summary["results"]
    meta = summary["meta"]
    corpora = [c for c in CORPORA if any(r["corpus"] == c for r in rows)]
    if not corpora:
        sys.exit("plot-bench: no results")
    jobs = sorted({r["jobs"] for r in rows if r["jobs"]}) or [1, 2, 4, 8, 16]

    cols = 2 if len(corpora) > 1 else 1
    nrows = (len(corpora) + cols - 1) // cols
    g = [f"set terminal pngcairo size {640 * cols},{440 * nrows + 40} font 'sans,10'",
         f"set output '{png}'",
         f"set multiplot layout {nrows},{cols} title \"treecopy throughput vs workers — "
         f"{meta['cpu']}, {meta['cores']} cores, {meta['date'][:10]}, "
         f"load average at start {meta.get('loadavg_at_start', '?').split()[0]}\"",
         "set logscale x 2", f"set xrange [{jobs[0] / 1.3}:{jobs[-1] * 1.3}]",
         "set xtics (" + ", ".join(f"'{j}' {j}" for j in jobs) + ")",
         "set xlabel 'treecopy -j'", "set grid", "set key bottom right font ',8'",
         "set yrange [0:*]", "set format y '%.0f'"]
    for corpus in corpora:
        mine = [r for r in rows if r["corpus"] == corpus]
        unit = mine[0]["unit"]
        info = meta["corpora"].get(corpus, {})
        g.append(f"set title '{corpus} ({info.get('files', '?')} files, "
                 f"{info.get('bytes', 0) / 1e6:.0f} MB)'")
        g.append(f"set ylabel '{unit}'")
        plots, blocks = [], []
        for place, label, colour in PLACES:
            pts = sorted((r["jobs"], r["throughput"]) for r in mine if r["place"] == place and r["jobs"])
            if pts:
                name = f"$d_{corpus}_{place}"
                blocks.append(f"{name} << EOD\n" + "\n".join(f"{j} {t}" for j, t in pts) + "\nEOD")
                plots.append(f"{name} using 1:2 with linespoints lw 2 pt 7 lc rgb '{colour}' "
                             f"title 'treecopy, {label}'")
            for tool, dash, short in (("cp -a", 2, "cp -a"), ("floor (2 threads)", 3, "floor")):
                ref = [r["throughput"] for r in mine if r["place"] == place and r["tool"] == tool]
                if ref:
                    plots.append(f"{ref[0]} with lines dt {dash} lw 1.5 lc rgb '{colour}' "
                                 f"title '{short}, {label}'")
            peers = [r for r in mine if r["place"] == place and r.get("family") in PEER_COPIERS]
            if peers:
                best = max(peers, key=lambda r: r["throughput"])
                plots.append(f"{best['throughput']} with lines dt 4 lw 1.5 lc rgb '{colour}' "
                             f"title '{best['tool']}, {label}'")
        g.extend(blocks)
        g.append("plot " + ", \\\n     ".join(plots) if plots else "plot 0 notitle")
    g.append("unset multiplot")
    script = "\n".join(g) + "\n"
    with open(os.path.join(results, "throughput.gp"), "w") as f:
        f.write(script)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"plot: {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
