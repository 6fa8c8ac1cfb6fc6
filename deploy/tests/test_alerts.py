"""The Prometheus alert rules: promtool accepts the config and the rules, their
unit tests pass, every rule says how bad it is and where its runbook section
is, and every rule is tested firing and not firing."""

import pathlib
import shutil
import subprocess

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
PROMETHEUS = DEPLOY / "prometheus"
RUNBOOK = DEPLOY.parent / "docs" / "runbook.md"


def promtool(*args):
    path = shutil.which("promtool")
    assert path, "promtool is needed: apt-get install prometheus (scripts/test installs it)"
    return subprocess.run([path, *args], capture_output=True, text=True, cwd=PROMETHEUS)


def rules():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [r for g in groups for r in g["rules"]]


def test_promtool_checks_the_config_and_the_rules():
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        done = promtool(*args)
        assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass():
    done = promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_rule_has_severity_summary_description_and_a_runbook_section():
    runbook = RUNBOOK.read_text()
    anchors = {
        line.lstrip("#").strip().lower() for line in runbook.splitlines() if line.startswith("### ")
    }
    names = [r["alert"] for r in rules()]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], name
        assert notes["runbook_url"] == f"docs/runbook.md#{name.lower()}", name
        assert name.lower() in anchors, f"docs/runbook.md has no '### {name}' section"


def test_every_rule_is_tested_firing_and_not_firing():
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    for name in (r["alert"] for r in rules()):
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name} is never tested firing"
        assert any(not c["exp_alerts"] for c in mine), f"{name} is never tested quiet"
