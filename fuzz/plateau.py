#!/usr/bin/env python3
"""Coverage over time in a libFuzzer log (campaign/<target>.log), to see whether a run
has plateaued: libFuzzer's status lines carry the execution count and the average
executions per second since the start, from which the time of each line follows.

    python3 plateau.py campaign/*.log
"""
import re
import sys

LINE = re.compile(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+) .*exec/s: (\d+)")
EDGES = re.compile(r"INFO: Loaded \d+ modules\s+\((\d+) inline 8-bit counters\)")

for path in sys.argv[1:]:
    points = []  # (seconds, cov, ft)
    edges = None
    for line in open(path, errors="replace"):
        e = EDGES.search(line)
        if e:
            edges = int(e.group(1))
        m = LINE.match(line)
        if m and int(m.group(4)) > 0:
            runs, cov, ft, rate = (int(g) for g in m.groups())
            points.append((runs / rate, cov, ft))
    if not points:
        print(f"{path}: no status lines")
        continue
    end, cov, ft = points[-1]
    marks = []
    for frac in (0.25, 0.5, 0.75):
        t = end * frac
        before = [p for p in points if p[0] <= t]
        if before:
            marks.append(f"{t / 60:.1f} min: cov {before[-1][1]} ft {before[-1][2]}")
    first_at_cov = min(p[0] for p in points if p[1] == cov)
    print(
        f"{path}: {end / 60:.1f} min, cov {cov}"
        # The instrumented edges are the whole binary's, std and dependencies
        # included, most of them unreachable from a target: a scale, not a goal.
        + (f" (of {edges} instrumented edges)" if edges else "")
        + f" ft {ft}; "
        + "; ".join(marks)
        + f"; final cov first reached at {first_at_cov / 60:.1f} min"
    )
