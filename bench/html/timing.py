"""Opens an HTML report in headless Chromium RUNS times: the seconds from navigation to the
load event, and the milliseconds one filter change takes (a rule picked in the findings
browser, through to the layout it causes). Prints medians: `timing.py REPORT RUNS`."""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cdp import Browser  # noqa: E402

FILTER = """(() => {
  const form = document.getElementById('filters');
  const rule = form.elements.rule.options[1].value;
  const start = performance.now();
  form.elements.rule.value = rule;
  form.dispatchEvent(new Event('input'));
  document.body.offsetHeight;
  const took = performance.now() - start;
  return [took, Number(document.getElementById('shown').textContent),
          document.querySelectorAll('#finding-list > .finding').length];
})()"""

report, runs = sys.argv[1], int(sys.argv[2])
browser = Browser()
loads, filters = [], []
for _ in range(runs):
    browser.open("about:blank")
    loads.append(browser.open("file://" + os.path.abspath(report)))
    took, shown, total = browser.evaluate(FILTER)
    assert 0 < shown < total, (shown, total)
    filters.append(took / 1000)
browser.close()
load, filtered = statistics.median(loads), statistics.median(filters)
size = os.path.getsize(report)
print(f"report: {total} findings, {size / 1e6:.1f} MB")
print(f"open (navigation to load event), median of {runs}: {load:.2f} s")
print(f"filter by one rule ({shown} of {total} shown), median of {runs}: {filtered * 1000:.0f} ms")
verdict = "PASS" if load + filtered <= 2.0 else "FAIL"
print(f"open + filter: {load + filtered:.2f} s (target <= 2 s): {verdict}")
