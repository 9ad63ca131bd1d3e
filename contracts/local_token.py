"""The local token file: the client token a local stack and its local clients share, readable by one user.

When no token is configured, ``exai up`` and the gateway :func:`ensure` the file holds one, and
``exai call`` / ``exai stdio`` :func:`read` it, so a local stack is closed to other users' processes
and to web pages without anyone copying a secret around. The file is refused (ConfigError) unless it
is a regular file of this user that nobody else can read or write, in a directory nobody else can
write to (or a sticky one, like /tmp): anyone who can replace it could choose the token. The
directory may be writable by the user's own group (user private groups, umask 002).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from contracts.errors import ConfigError

SETTING = "EXAI_WS_TOKEN_FILE"
MIN_LENGTH = 16  # as for EXAI_WS_TOKEN
MAX_BYTES = 4096  # more than any token; a larger file is not one of ours
_TOKEN = re.compile(rf"^[\x21-\x7e]{{{MIN_LENGTH},{MAX_BYTES}}}$")  # printable ASCII, no space


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/exai-mcp/ws-token``, else ``~/.config/exai-mcp/ws-token``."""
    env = os.environ if environ is None else environ
    config_home = env.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "exai-mcp" / "ws-token"


def read(path: Path) -> str | None:
    """The token in ``path``; ``None`` when the file does not exist or holds no valid token."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        _check_entry(path)  # a symlink (ELOOP) or a permission problem: say which
        raise ConfigError(f"{SETTING}: cannot read {path}: {exc.strerror}") from None
    try:
        _check_file(path, os.fstat(fd))  # on the open file: nothing can be swapped in between
        _check_directory(path.parent)
        data = os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)
    text = data.decode("ascii", errors="replace").strip()
    return text if _TOKEN.match(text) else None


def ensure(path: Path) -> str:
    """The token in ``path``, after creating the file (and its directory, mode 0700) when needed."""
    existing = read(path)
    if existing is not None:
        return existing
    directory = path.parent
    if not directory.exists():
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)
        except OSError as exc:
            raise ConfigError(
                f"{SETTING}: cannot create {directory}: {exc.strerror}; set EXAI_WS_TOKEN, or "
                f"{SETTING} to a writable place"
            ) from None
    _check_directory(directory)
    token = secrets.token_urlsafe(32)
    fd, temporary = _temporary(directory)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic, and never over a file another process just made
        except FileExistsError:
            winner = read(path)
            if winner is not None:
                return winner
            os.replace(temporary, path)  # the file there holds no token: ours takes its place
        except OSError:
            os.replace(temporary, path)  # a file system without hard links
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return token


def _temporary(directory: Path) -> tuple[int, str]:
    name = str(directory / f".ws-token.{secrets.token_hex(8)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, 0o600), name
    except OSError as exc:
        raise ConfigError(
            f"{SETTING}: cannot write in {directory}: {exc.strerror}; set EXAI_WS_TOKEN, or "
            f"{SETTING} to a writable place"
        ) from None


def _check_entry(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        _check_file(path, os.lstat(path))


def _check_file(path: Path, info: os.stat_result) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(f"{SETTING}: {path} is a symbolic link; point {SETTING} at the file itself")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{SETTING}: {path} is not a regular file")
    if info.st_uid != os.getuid():
        raise ConfigError(f"{SETTING}: {path} belongs to another user; remove it or choose another path")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"{SETTING}: {path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )


def _check_directory(directory: Path) -> None:
    info = os.stat(directory)
    # Group-writable is fine when the group is the user's own (user private groups, umask 002).
    writers = stat.S_IWOTH | (stat.S_IWGRP if info.st_gid != os.getgid() else 0)
    if info.st_mode & writers and not info.st_mode & stat.S_ISVTX:
        raise ConfigError(
            f"{SETTING}: other users may write to {directory} (mode {stat.S_IMODE(info.st_mode):04o}), "
            f"so they could replace the token file; run `chmod go-w {directory}` or choose another path"
        )
