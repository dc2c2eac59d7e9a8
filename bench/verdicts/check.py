#!/usr/bin/env python3
"""Compares an audit of the benchmark corpus with the judged findings in bench/verdicts/.

Usage: bench/verdicts/check.py CORPUS_DIR PRODREADY [--select CODES]

Prints every judged finding that is gone or changed severity (a lost TP is a regression; a
gone FP is progress) and every finding no TSV judges. Exits 1 while a TP is lost or a finding
is unjudged.
"""
import csv
import json
import pathlib
import subprocess
import sys


def judged():
    rows = {}
    for tsv in sorted(pathlib.Path(__file__).parent.glob("*.tsv")):
        lines = [l for l in tsv.read_text().splitlines() if l and not l.startswith("#")]
        for row in csv.DictReader(lines, delimiter="\t"):
            key = (row["code"], row["path"], row["line"] or "")
            rows.setdefault(key, []).append(row)
    return rows


def audited(corpus, binary, select):
    args = [binary, "audit", corpus, "--format", "json", "--no-cache", "--quiet"]
    if select:
        args += ["--select", select]
    report = json.loads(subprocess.run(args, capture_output=True, text=True).stdout)
    found = {}
    for f in report["findings"]:
        line = str(f.get("start_line") or "")
        found.setdefault((f["code"], f["path"] or "", line), []).append(f["severity"])
    return found


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    select = sys.argv[sys.argv.index("--select") + 1] if "--select" in sys.argv else None
    verdicts, found = judged(), audited(sys.argv[1], sys.argv[2], select)
    in_scope = lambda code: not select or any(code.startswith(s) for s in select.split(","))
    lost_tp = unjudged = 0
    for key, rows in sorted(verdicts.items()):
        if not in_scope(key[0]):
            continue
        severities = found.get(key, [])
        for row in rows:
            if row["severity"] in severities:
                severities.remove(row["severity"])
                continue
            now = f"now {', '.join(found.get(key, []))}" if found.get(key) else "gone"
            lost_tp += row["verdict"] == "TP"
            print(f"{row['verdict']} {row['severity']} {' '.join(key)}: {now}")
    for key, severities in sorted(found.items()):
        judged_here = {r["severity"] for r in verdicts.get(key, [])}
        for severity in severities:
            if severity not in judged_here:
                unjudged += 1
                print(f"unjudged {severity} {' '.join(key)}")
    print(f"judged TPs lost or changed: {lost_tp}; unjudged findings: {unjudged}")
    sys.exit(1 if lost_tp or unjudged else 0)


main()
