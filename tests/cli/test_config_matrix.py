"""The configuration matrix documents every setting."""

from __future__ import annotations

from pathlib import Path

from cli.config_matrix import render, rows
from contracts.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_meaning_and_a_default() -> None:
    """A new field needs `description=` (or a comment on its line) to be documented."""
    missing = [r["name"] for r in rows() if not r["meaning"]]
    assert not missing, f"describe these settings in contracts/settings.py: {missing}"


def test_secrets_are_marked_and_never_given_a_default() -> None:
    """SecretStr fields are flagged as secrets and shown as unset."""
    by_name = {r["name"]: r for r in rows()}
    for name in ("exai_ws_token", "kimi_api_key", "glm_api_key"):
        assert by_name[name]["secret"] == "yes" and by_name[name]["default"] == "unset"
    assert by_name["redis_url"]["secret"] == ""


def test_docs_configuration_lists_every_setting() -> None:
    """docs/configuration.md is regenerated (`exai config --matrix`) whenever a setting is added."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    absent = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]
    assert not absent, f"run `exai config --matrix > docs/configuration.md`; missing {absent}"
    assert render().startswith("# Configuration matrix")
