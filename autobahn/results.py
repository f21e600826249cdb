#!/usr/bin/env python3
"""Reduces a wstest report (reports/index.json) to the result of each case, sorted by
case id, so that expected results can be kept in the repo and compared as a diff.

    results.py OUTDIR/reports/index.json > actual.json
"""

import json
import sys


def case_key(case_id):
    return tuple(int(part) for part in case_id.split("."))


def main(path):
    with open(path) as f:
        report = json.load(f)
    results = {}
    for cases in report.values():
        for case_id, result in cases.items():
            results[case_id] = f"{result['behavior']} / {result['behaviorClose']}"
    ordered = {k: results[k] for k in sorted(results, key=case_key)}
    json.dump(ordered, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
