"""Every alarm the stack defines has its entry in the runbook's table of alarms, so whoever
it pages finds what it means and what to do."""

import json
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_every_alarm_of_the_stack_is_in_the_runbooks_table() -> None:
    template = json.loads((PROJECT / "infra" / "template.json").read_text(encoding="utf-8"))
    alarms = {
        name
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    }
    runbook = (PROJECT / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
    table = runbook.split("\n## Alarms\n", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"`(\w+Alarm)`", table))
    assert alarms - listed == set()
