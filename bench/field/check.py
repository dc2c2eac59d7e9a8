#!/usr/bin/env python3
"""Re-audits the field set and compares the failing findings with the judged ones.

Usage: bench/field/check.py TREES [PRODREADY_BINARY] [--only OWNER/NAME] [--dump DIR]

TREES holds one folder per repository of repos.tsv, named owner+name (materialise.py makes
them). For each repository it prints:
  - known false positives (FP, DEBATABLE) that still fail their item;
  - known true positives no longer found failing;
  - failing findings that no verdict row matches (judge them, then add rows);
and then the precision over the judged failing findings, overall, for critical + high, and for
the resilience and deployment findings (RES, OBS005, DEP):
TP / (TP + FP + DEBATABLE). Unjudged findings are counted apart, never as TP.

A verdict row (verdicts/owner+name.tsv, tab-separated, no header; `#` starts a comment):
  code  severity  location  fails-item(Y/N)  verdict(TP/FP/DEBATABLE)  reason
location is `path:line`, `path` (a finding in a file without a line) or `(repo)` (a
project-level finding anchored nowhere). A row matches a current finding with the same code and
location; N rows of one key match up to N findings.
"""
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def repos():
    with open(os.path.join(HERE, "repos.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                fields = line.rstrip("\n").split("\t")
                yield fields[0], fields[1]


def verdicts(slug):
    path = os.path.join(HERE, "verdicts", slug + ".tsv")
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 6 or fields[4] not in ("TP", "FP", "DEBATABLE"):
                    sys.exit(f"{path}:{number}: expected 6 tab-separated fields with a TP/FP/DEBATABLE verdict")
                rows.append(dict(code=fields[0], severity=fields[1], location=fields[2],
                                 fails=fields[3], verdict=fields[4], reason=fields[5]))
    return rows


def is_resilience_or_deployment(code):
    """The findings issue 22's floor is measured on: RES, OBS005 and DEP."""
    return code.startswith(("RES", "DEP")) or code == "OBS005"


def location(finding):
    path = finding.get("path")
    line = finding.get("start_line")
    if path and line:
        return f"{path}:{line}"
    return path or "(repo)"


def audit(binary, tree, dump):
    run = subprocess.run([binary, "audit", tree, "--format", "json", "--no-cache", "--quiet"],
                         capture_output=True, text=True)
    if run.returncode not in (0, 1, 3):
        sys.exit(f"audit of {tree} failed ({run.returncode}): {run.stderr.strip()}")
    report = json.loads(run.stdout)
    if dump:
        with open(os.path.join(dump, os.path.basename(tree) + ".json"), "w") as f:
            f.write(run.stdout)
    return report


def main():
    args = [a for a in sys.argv[1:]]
    only = dump = None
    if "--only" in args:
        i = args.index("--only"); only = args[i + 1]; del args[i:i + 2]
    if "--dump" in args:
        i = args.index("--dump"); dump = args[i + 1]; del args[i:i + 2]
        os.makedirs(dump, exist_ok=True)
    if not args:
        sys.exit(__doc__)
    trees = args[0]
    binary = args[1] if len(args) > 1 else os.path.join(HERE, "..", "..", "target", "release", "prodready")
    totals = collections.Counter()
    for repo, commit in repos():
        if only and repo != only:
            continue
        slug = repo.replace("/", "+")
        tree = os.path.join(trees, slug)
        if not os.path.isdir(tree):
            sys.exit(f"missing {tree}: run bench/field/materialise.py {trees}")
        report = audit(binary, tree, dump)
        failing = [f for f in report["findings"] if f["fails_item"]]
        rows = verdicts(slug)
        pool = collections.defaultdict(list)
        for row in rows:
            pool[(row["code"], row["location"])].append(row)
        unjudged, still_wrong, counts = [], [], collections.Counter()
        for finding in failing:
            key = (finding["code"], location(finding))
            if not pool[key]:
                unjudged.append(finding)
                continue
            row = pool[key].pop(0)
            high = finding["severity"] in ("critical", "high")
            counts[row["verdict"]] += 1
            if high:
                counts["high " + row["verdict"]] += 1
            if is_resilience_or_deployment(finding["code"]):
                counts["res " + row["verdict"]] += 1
            if row["verdict"] != "TP":
                still_wrong.append((finding, row))
        lost = [row for rows_left in pool.values() for row in rows_left
                if row["verdict"] == "TP" and row["fails"] == "Y"]
        print(f"== {repo} @ {commit[:12]}: score {report['score']} level {report['level']}, "
              f"{len(failing)} failing finding(s)")
        for finding, row in still_wrong:
            print(f"  still failing, judged {row['verdict']}: {finding['code']} {finding['severity']} "
                  f"{location(finding)}: {row['reason']}")
        for row in lost:
            print(f"  TP no longer failing: {row['code']} {row['location']}: {row['reason']}")
        for finding in unjudged:
            print(f"  unjudged: {finding['code']}\t{finding['severity']}\t{location(finding)}\t"
                  f"{finding['message']}")
        counts["unjudged"] += len(unjudged)
        counts["lost"] += len(lost)
        totals.update(counts)
    def precision(prefix):
        tp = totals[prefix + "TP"]
        judged = tp + totals[prefix + "FP"] + totals[prefix + "DEBATABLE"]
        return f"{tp}/{judged} = {100 * tp / judged:.1f}%" if judged else "n/a (nothing judged)"
    print()
    print(f"failing findings judged: TP {totals['TP']}, FP {totals['FP']}, "
          f"DEBATABLE {totals['DEBATABLE']}; unjudged {totals['unjudged']}; "
          f"judged TPs no longer failing {totals['lost']}")
    print(f"precision, all failing:           {precision('')}")
    print(f"precision, critical + high:       {precision('high ')}")
    print(f"precision, RES + OBS005 + DEP:    {precision('res ')}")
    return 1 if totals["unjudged"] or totals["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
