"""The secret-file list: names a worker never reads, even when a call names the file explicitly.

A call's ``files`` and ``images`` reach a model, and a model's answer reaches whoever made the call,
so a file the worker reads is a file the caller can read. The worker's default file root is its
working directory, where ``.env`` holds the provider keys. Every component of a path, below the
file root it lies in, is matched (case-insensitively) against :data:`SECRET_PATTERNS`: a match is
refused by name when the call named it, and left out of a directory it walks. An operator lets
chosen names through with ``EXAI_FILE_ALLOW_PATTERNS`` (glob patterns matched against the same
components, e.g. ``.github,*.pub``).

The list is by name, so it cannot see a secret under an innocent name (a hard link, a copy); it
catches the files that tools, SDKs and people put secrets in by convention.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class SecretPattern:
    pattern: str  # a glob matched against one path component, lower-cased
    holds: str  # what files of that name usually hold, for the docs and the refusal


# docs/security.md lists these; tests/workers/test_secret_files.py checks that it does.
SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        ".*",
        "dotfiles and dot-directories: .env*, .git/, .ssh/, .aws/, .azure/, .gcloud/, .kube/, .docker/, "
        ".gnupg/, .netrc, .npmrc, .pypirc, .pgpass, .git-credentials, shell histories",
    ),
    SecretPattern("*.env", "environment files (prod.env, secrets.env)"),
    SecretPattern("*.pem", "PEM private keys and certificates"),
    SecretPattern("*.key", "private keys"),
    SecretPattern("*.p12", "PKCS#12 key stores"),
    SecretPattern("*.pfx", "PKCS#12 key stores"),
    SecretPattern("*.jks", "Java key stores"),
    SecretPattern("*.keystore", "Java and Android key stores"),
    SecretPattern("*.kdbx", "KeePass password databases"),
    SecretPattern("*.ppk", "PuTTY private keys"),
    SecretPattern("*.keytab", "Kerberos keytabs"),
    SecretPattern("id_rsa*", "SSH keys"),
    SecretPattern("id_dsa*", "SSH keys"),
    SecretPattern("id_ecdsa*", "SSH keys"),
    SecretPattern("id_ed25519*", "SSH keys"),
    SecretPattern("id_xmss*", "SSH keys"),
    SecretPattern("*.ovpn", "OpenVPN profiles, which usually embed their keys"),
    SecretPattern("*.tfstate", "Terraform state, which holds every managed resource's secrets"),
    SecretPattern("*.tfstate.*", "Terraform state backups"),
    SecretPattern("credentials*", "cloud and tool credentials (credentials, credentials.json, …)"),
    SecretPattern("htpasswd", "web server password files"),
)


def allow_patterns(raw: str | None) -> tuple[str, ...]:
    """The operator's EXAI_FILE_ALLOW_PATTERNS as a tuple of lower-cased globs."""
    return tuple(p.strip().lower() for p in (raw or "").split(",") if p.strip())


def secret_match(parts: Iterable[str], allowed: Sequence[str] = ()) -> tuple[str, SecretPattern] | None:
    """The first path component that names a secret file and no allow pattern lets through, with the
    pattern it matched; ``None`` when every component may be read."""
    for part in parts:
        name = part.lower()
        if name in ("", ".", ".."):
            continue
        for secret in SECRET_PATTERNS:
            if fnmatchcase(name, secret.pattern):
                if any(fnmatchcase(name, allow) for allow in allowed):
                    break
                return part, secret
    return None
