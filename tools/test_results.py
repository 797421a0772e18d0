#!/usr/bin/env python3
"""Counts one tools/test stage's results from the runners' own reports.

Usage: test_results.py DIR → prints "PASSED FAILED SKIPPED".

DIR holds JUnit XML reports (GoogleTest's --gtest_output=xml, pytest's --junitxml) and
`*.counts` files written by stages whose runner has no report (one line
"passed N failed N skipped N"). Every <testcase> counts once: failed if it holds a
<failure> or <error>, skipped if <skipped> (pytest) or result="skipped"/"suppressed"
(GoogleTest), passed otherwise. A report that does not parse counts as one failure: a
runner that died while writing it did not pass.
"""
import pathlib
import re
import sys
import xml.etree.ElementTree as ET


def count_xml(path):
    passed = failed = skipped = 0
    for case in ET.parse(path).getroot().iter("testcase"):
        children = {child.tag for child in case}
        if children & {"failure", "error"}:
            failed += 1
        elif "skipped" in children or case.get("result") in ("skipped", "suppressed") \
                or case.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def count_file(path):
    text = path.read_text()
    values = dict(re.findall(r"(passed|failed|skipped) (\d+)", text))
    if not values:
        raise ValueError(f"no counts in {path}")
    return tuple(int(values.get(k, 0)) for k in ("passed", "failed", "skipped"))


def main():
    root = pathlib.Path(sys.argv[1])
    totals = [0, 0, 0]
    for path in sorted(root.glob("*")):
        try:
            if path.suffix == ".xml":
                counts = count_xml(path)
            elif path.suffix == ".counts":
                counts = count_file(path)
            else:
                continue
        except (ET.ParseError, ValueError) as error:
            print(f"unreadable report {path.name}: {error}", file=sys.stderr)
            counts = (0, 1, 0)
        totals = [a + b for a, b in zip(totals, counts)]
    print(*totals)


if __name__ == "__main__":
    main()
