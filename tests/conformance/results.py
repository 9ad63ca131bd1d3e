"""What a run of the official conformance suite found, read from its machine output.

``conformance server … -o DIR`` writes one folder per scenario run, ``server-<scenario>-<timestamp>``,
holding ``checks.json``: a list of checks, each with ``id``, ``status`` (``SUCCESS``, ``FAILURE``,
``WARNING``, ``SKIPPED``, ``INFO``), ``description`` and, when it failed, ``errorMessage``. A
requirement set (``requirements/<revision>.yaml`` in the installed suite) says which scenarios a
revision requires (scored) and which are run but not scored, each with the suite's reason
(``extension``, ``pending``, ``added-after-release``).

By hand, after a run: ``python -m tests.conformance.results DIR --requirements 2026-07-28``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

SUITE = Path(__file__).resolve().parent / "node_modules" / "@modelcontextprotocol" / "conformance"
_RUN_DIR = re.compile(r"^server-(?P<scenario>.+)-(?P<at>\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)$")
MESSAGE_WIDTH = 160  # characters of a check's message shown in a table cell


@dataclass(frozen=True)
class RequirementSet:
    """The server scenarios one spec revision requires, and those the suite runs without scoring."""

    revision: str
    scored: tuple[str, ...]
    not_scored: Mapping[str, str]  # scenario → the suite's reason: extension, pending, added-after-release

    def not_scored_for(self, reason: str) -> tuple[str, ...]:
        return tuple(name for name, why in self.not_scored.items() if why == reason)

    @property
    def everything(self) -> tuple[str, ...]:
        return (*self.scored, *self.not_scored)


def requirement_set(revision: str, suite: Path = SUITE) -> RequirementSet:
    """The server side of ``requirements/<revision>.yaml`` of the installed suite."""
    raw = yaml.safe_load((suite / "requirements" / f"{revision}.yaml").read_text()) or {}
    entries = raw.get("not_scored") or []
    not_scored = {entry["scenario"]: entry["reason"] for entry in entries if entry["leg"] == "server"}
    return RequirementSet(revision, tuple(raw.get("server") or ()), not_scored)


@dataclass(frozen=True)
class Check:
    id: str
    status: str
    message: str


@dataclass(frozen=True)
class ScenarioResult:
    """The checks one scenario recorded; ``verdict`` is what they add up to."""

    scenario: str
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> str:
        """``pass`` (a success, no failure), ``fail``, ``skipped`` (the suite skipped every check
        itself, saying why), ``no verdict`` (only INFO/WARNING), or ``missing`` (no checks at all)."""
        statuses = {check.status for check in self.checks}
        if not statuses:
            return "missing"
        if "FAILURE" in statuses:
            return "fail"
        if "SUCCESS" in statuses:
            return "pass"
        if statuses == {"SKIPPED"}:
            return "skipped"
        return "no verdict"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def count(self, status: str) -> int:
        return sum(check.status == status for check in self.checks)

    @property
    def notable(self) -> tuple[Check, ...]:
        """The checks a reader needs to see: failures first, then warnings and the suite's skips."""
        order = {"FAILURE": 0, "WARNING": 1, "SKIPPED": 2}
        return tuple(sorted((c for c in self.checks if c.status in order), key=lambda c: order[c.status]))


def load_results(output_dir: Path) -> dict[str, ScenarioResult]:
    """Every scenario found under ``output_dir`` (the latest run of each, when there are several)."""
    found: dict[str, tuple[str, ScenarioResult]] = {}
    for checks_file in output_dir.glob("server-*/checks.json"):
        match = _RUN_DIR.match(checks_file.parent.name)
        if match is None:
            continue
        try:
            raw = json.loads(checks_file.read_text())
        except json.JSONDecodeError as exc:
            raw = [{"id": "checks.json", "status": "FAILURE", "errorMessage": f"unreadable: {exc}"}]
        checks = tuple(
            Check(str(c.get("id", "?")), str(c.get("status", "?")), _message(c))
            for c in raw
            if isinstance(c, dict)
        )
        scenario, at = match["scenario"], match["at"]
        if scenario not in found or found[scenario][0] < at:
            found[scenario] = (at, ScenarioResult(scenario, checks))
    return {scenario: result for scenario, (_, result) in found.items()}


def result_of(results: Mapping[str, ScenarioResult], scenario: str) -> ScenarioResult:
    """The scenario's result, or an empty (``missing``) one when the run left nothing for it."""
    return results.get(scenario) or ScenarioResult(scenario, ())


def summary_table(
    results: Mapping[str, ScenarioResult], scenarios: Iterable[str], group: Mapping[str, str] | None = None
) -> str:
    """One row per scenario (group, verdict, checks passed/judged), in the order given (Markdown)."""
    rows = ["| scenario | group | result | checks passed |", "|---|---|---|---|"]
    for name in scenarios:
        result = result_of(results, name)
        judged = result.count("SUCCESS") + result.count("FAILURE")
        warnings = result.count("WARNING")
        note = f", {warnings} warning{'s' if warnings > 1 else ''}" if warnings else ""
        rows.append(
            f"| {name} | {(group or {}).get(name, 'required')} | {result.verdict} "
            f"| {result.count('SUCCESS')}/{judged}{note} |"
        )
    return "\n".join(rows)


def failing_checks_table(results: Mapping[str, ScenarioResult], scenarios: Iterable[str]) -> str:
    """Every failing, warning or skipped check of the scenarios that did not pass, with its message."""
    rows = ["| scenario | check | status | message |", "|---|---|---|---|"]
    for name in scenarios:
        result = result_of(results, name)
        if result.passed:
            continue
        if not result.checks:
            rows.append(f"| {name} | — | MISSING | the run recorded no checks (crashed or timed out?) |")
        for check in result.notable or result.checks:
            rows.append(f"| {name} | {check.id} | {check.status} | {check.message} |")
    return "\n".join(rows)


def tally(results: Mapping[str, ScenarioResult], scenarios: Iterable[str]) -> tuple[int, int, int, int]:
    """(scenarios passed, scenarios, checks passed, checks judged) over ``scenarios``."""
    names = list(scenarios)
    chosen = [result_of(results, name) for name in names]
    return (
        sum(r.passed for r in chosen),
        len(names),
        sum(r.count("SUCCESS") for r in chosen),
        sum(r.count("SUCCESS") + r.count("FAILURE") for r in chosen),
    )


def _message(check: Mapping[str, object]) -> str:
    text = str(check.get("errorMessage") or check.get("description") or "")
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= MESSAGE_WIDTH else text[: MESSAGE_WIDTH - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="the folder given to the suite with -o")
    parser.add_argument("--requirements", required=True, help="the revision the run used, e.g. 2026-07-28")
    args = parser.parse_args(argv)
    required = requirement_set(args.requirements)
    results = load_results(args.output_dir)
    group = {name: f"not scored: {why}" for name, why in required.not_scored.items()}
    print(summary_table(results, required.everything, group))
    passed, total, checks_ok, checks = tally(results, required.scored)
    print(f"\nrequired by {required.revision}: {passed}/{total} scenarios, {checks_ok}/{checks} checks")
    for reason in dict.fromkeys(required.not_scored.values()):
        passed, total, _, _ = tally(results, required.not_scored_for(reason))
        print(f"not scored ({reason}): {passed}/{total} scenarios")
    print()
    print(failing_checks_table(results, required.everything))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
