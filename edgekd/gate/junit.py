"""JUnit XML for the gate: one test case per budget limit, so CI systems list each budget."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from edgekd.gate.check import BudgetResult


def write_junit(results: list[BudgetResult], path: str | Path, suite: str = "edgekd budgets") -> None:
    failures = sum(not r.passed for r in results)
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(failures))
    suite_el = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                             failures=str(failures), errors="0", skipped="0")
    for result in results:
        case = ET.SubElement(suite_el, "testcase", classname=f"edgekd.budget.{result.model}.{result.format}",
                             name=result.limit_name, time="0")
        if result.passed:
            ET.SubElement(case, "system-out").text = result.message
        else:
            failure = ET.SubElement(case, "failure", message=result.message, type="BudgetExceeded")
            failure.text = f"{result.label}: {result.message}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
