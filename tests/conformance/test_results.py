"""Reading the conformance suite's machine output: verdicts per scenario, tables, requirement sets."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conformance.results import (
    ScenarioResult,
    failing_checks_table,
    load_results,
    requirement_set,
    result_of,
    summary_table,
    tally,
)


def write_run(root: Path, scenario: str, at: str, checks: list[dict[str, str]]) -> None:
    folder = root / f"server-{scenario}-{at}"
    folder.mkdir(parents=True)
    (folder / "checks.json").write_text(json.dumps(checks))


def check(status: str, message: str = "", check_id: str = "c") -> dict[str, str]:
    return {"id": check_id, "status": status, "description": "d", "errorMessage": message}


def test_a_scenario_passes_with_a_success_and_no_failure_whatever_its_warnings(tmp_path: Path) -> None:
    """SUCCESS + WARNING is a pass; any FAILURE is a fail; INFO alone gives no verdict."""
    write_run(tmp_path, "tools-list", "2026-12-01T10-00-00-000Z", [check("SUCCESS"), check("WARNING")])
    write_run(tmp_path, "ping", "2026-12-01T10-00-00-000Z", [check("SUCCESS"), check("FAILURE", "bad")])
    write_run(tmp_path, "server-sse-polling", "2026-12-01T10-00-00-000Z", [check("INFO"), check("WARNING")])
    results = load_results(tmp_path)
    assert results["tools-list"].verdict == "pass"
    assert results["ping"].verdict == "fail"
    assert results["server-sse-polling"].verdict == "no verdict"


def test_a_scenario_the_suite_skipped_itself_is_skipped_not_passed(tmp_path: Path) -> None:
    """Only SKIPPED checks (the suite's own skip, with its reason) make a ``skipped`` verdict."""
    write_run(tmp_path, "tasks-status-notifications", "2026-12-01T10-00-00-000Z", [check("SKIPPED", "why")])
    result = load_results(tmp_path)["tasks-status-notifications"]
    assert result.verdict == "skipped"
    assert not result.passed


def test_a_scenario_with_no_output_is_missing_and_counts_as_not_passed(tmp_path: Path) -> None:
    """A scenario the suite crashed on leaves no folder: ``missing``, reported as such."""
    results = load_results(tmp_path)
    assert result_of(results, "caching").verdict == "missing"
    assert "MISSING" in failing_checks_table(results, ["caching"])
    assert tally(results, ["caching"]) == (0, 1, 0, 0)


def test_the_latest_run_of_a_scenario_wins(tmp_path: Path) -> None:
    """Two folders for one scenario (two runs into one directory): the later timestamp is read."""
    write_run(tmp_path, "ping", "2026-12-01T10-00-00-000Z", [check("FAILURE")])
    write_run(tmp_path, "ping", "2026-12-01T11-00-00-000Z", [check("SUCCESS")])
    assert load_results(tmp_path)["ping"].passed


def test_tables_name_each_failing_check_with_its_message(tmp_path: Path) -> None:
    """The failing-checks table has one row per notable check; pipes in messages are escaped."""
    write_run(
        tmp_path,
        "caching",
        "2026-12-01T10-00-00-000Z",
        [check("SUCCESS", check_id="a"), check("FAILURE", "ttlMs missing | on tools/list", "b")],
    )
    results = load_results(tmp_path)
    table = failing_checks_table(results, ["caching"])
    assert "| caching | b | FAILURE | ttlMs missing \\| on tools/list |" in table
    assert "| caching | a |" not in table
    assert "| caching | required | fail | 1/2 |" in summary_table(results, ["caching"])


def test_a_requirement_set_is_read_from_the_suite_s_own_file(tmp_path: Path) -> None:
    """Scored server scenarios and the not-scored ones with the suite's reason; client legs ignored."""
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "2026-07-28.yaml").write_text(
        "server: [server-stateless, tools-list]\n"
        "client: [tools_call]\n"
        "not_scored:\n"
        "  - {scenario: tasks-lifecycle, leg: server, reason: extension}\n"
        "  - {scenario: json-schema-2020-12, leg: server, reason: pending}\n"
        "  - {scenario: auth/dpop, leg: client, reason: extension}\n"
    )
    required = requirement_set("2026-07-28", suite=tmp_path)
    assert required.scored == ("server-stateless", "tools-list")
    assert required.not_scored_for("extension") == ("tasks-lifecycle",)
    assert required.everything == ("server-stateless", "tools-list", "tasks-lifecycle", "json-schema-2020-12")


def test_an_unreadable_checks_file_is_a_failure_not_a_pass(tmp_path: Path) -> None:
    """A truncated checks.json (the suite killed mid-write) reads as a failing check."""
    folder = tmp_path / "server-ping-2026-12-01T10-00-00-000Z"
    folder.mkdir()
    (folder / "checks.json").write_text("[{")
    assert load_results(tmp_path)["ping"].verdict == "fail"


def test_a_result_with_no_checks_is_missing() -> None:
    """An empty result object (nothing recorded) never counts as a pass."""
    assert ScenarioResult("ping", ()).verdict == "missing"
