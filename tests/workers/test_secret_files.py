"""The secret-file list: the names refused, case-insensitively, and what allow patterns let through."""

from __future__ import annotations

import pytest

from contracts.errors import ConfigError
from contracts.settings import load_settings
from workers.secret_files import SECRET_PATTERNS, allow_patterns, secret_match


@pytest.mark.parametrize(
    ("path", "component", "pattern"),
    [
        (".env", ".env", ".*"),
        (".env.local", ".env.local", ".*"),
        (".git/config", ".git", ".*"),
        ("home/.ssh/known_hosts", ".ssh", ".*"),
        (".netrc", ".netrc", ".*"),
        ("deploy/prod.env", "prod.env", "*.env"),
        ("certs/server.PEM", "server.PEM", "*.pem"),
        ("tls/site.key", "site.key", "*.key"),
        ("id_rsa", "id_rsa", "id_rsa*"),
        ("keys/id_ed25519.pub", "id_ed25519.pub", "id_ed25519*"),
        ("vault.kdbx", "vault.kdbx", "*.kdbx"),
        ("infra/terraform.tfstate.backup", "terraform.tfstate.backup", "*.tfstate.*"),
        ("gcp/credentials.json", "credentials.json", "credentials*"),
        ("etc/htpasswd", "htpasswd", "htpasswd"),
    ],
)
def test_secret_names_are_matched_in_any_component(path: str, component: str, pattern: str) -> None:
    """A secret name anywhere in the path is found, with the pattern that caught it."""
    found = secret_match(path.split("/"))
    assert found is not None
    assert (found[0], found[1].pattern) == (component, pattern)


@pytest.mark.parametrize("path", ["src/app.py", "docs/keys.md", "pkg/id_map.py", "README", "a/../b.txt"])
def test_ordinary_names_are_not_secret(path: str) -> None:
    """Source files, including ones whose names merely start like a key's, pass."""
    assert secret_match(path.split("/")) is None


def test_an_allow_pattern_lets_only_the_components_it_matches_through() -> None:
    """`.github,*.pub`: the workflows directory and public keys pass; `.ssh/` and the private key do not."""
    allowed = allow_patterns(".github, *.PUB")
    assert secret_match([".github", "workflows", "ci.yml"], allowed) is None
    assert secret_match(["keys", "id_rsa.pub"], allowed) is None
    assert secret_match(["keys", "id_rsa"], allowed) is not None
    found = secret_match([".ssh", "id_rsa.pub"], allowed)
    assert found is not None and found[0] == ".ssh"


def test_allow_patterns_name_components_not_paths() -> None:
    """A pattern with a slash could never match a component: the setting says so at start-up."""
    with pytest.raises(ConfigError, match=r"EXAI_FILE_ALLOW_PATTERNS.*not a path"):
        load_settings(exai_file_allow_patterns=".github/workflows")


def test_every_pattern_says_what_such_files_hold() -> None:
    """The list documents itself: each pattern is a lower-case glob with a description, none twice."""
    patterns = [s.pattern for s in SECRET_PATTERNS]
    assert len(patterns) == len(set(patterns))
    assert all(s.pattern == s.pattern.lower() and "/" not in s.pattern and s.holds for s in SECRET_PATTERNS)


def test_the_security_doc_lists_every_secret_pattern() -> None:
    """docs/security.md's secret-file table names every pattern the workers refuse."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    table = doc.split("## The secret-file list", 1)[1].split("\n## ", 1)[0]
    missing = [p.pattern for p in SECRET_PATTERNS if f"`{p.pattern}`" not in table]
    assert missing == []
