"""Opening a file a call names without blocking the worker or reading what it must not read.

Before anything is opened, a path must be valid text, absolute, and resolve (every symlink
followed) under an allowed root (EXAI_FILE_ROOTS, default the worker's working directory) without
passing through a secret-file name (``workers.secret_files``). It is then opened without following
a symlink swapped in since the check and without blocking: a FIFO opened for reading waits for a
writer, which under gevent stalls the whole worker, its claim refreshes and heartbeats included.
What was opened is checked on its descriptor, never by a second lookup of the name: only a regular
file is read, and at most its limit plus one byte, so a file larger than it says (growing, or a
``/proc`` file that says 0) is caught without being read whole.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import InvalidArguments
from contracts.settings import Settings
from workers.secret_files import allow_patterns, secret_match

# O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (then fstat refuses it);
# O_NOFOLLOW: the resolved path has no symlink, so one found now was swapped in after the check.
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW
READ_CHUNK = 1 << 20


class Refused(InvalidArguments):
    """Raised when a path names something never read: outside the roots, a secret file, or not a
    regular file. A directory walk leaves such entries out silently."""


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    setting: str  # the environment variable that sets it
    advice: str  # what the caller can do instead


def allowed_roots(settings: Settings) -> list[Path]:
    raw = settings.exai_file_roots
    names = [r.strip() for r in raw.split(",") if r.strip()] if raw else [os.getcwd()]
    return [Path(r).expanduser().resolve() for r in names]


def checked_text(raw: object, label: str) -> str:
    """``raw`` if it can be a path at all; else InvalidArguments naming the argument."""
    if not isinstance(raw, str):
        raise InvalidArguments(f"{label}: must be a path (a string), got {type(raw).__name__}")
    if not raw:
        raise InvalidArguments(f"{label}: is empty; give an absolute path")
    if "\0" in raw:
        raise InvalidArguments(f"{label}: {raw!r} contains a NUL byte, which no path can hold")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArguments(
            f"{label}: {raw!r} is not valid Unicode (it holds a lone surrogate); send the path as UTF-8 text"
        ) from None
    return raw


def resolve(raw: object, label: str, settings: Settings) -> Path:
    """The resolved path of ``raw`` if the worker may read it; else InvalidArguments (``Refused``
    for a path outside the roots or through a secret-file name) saying why, naming ``label``."""
    text = checked_text(raw, label)
    path = Path(text)
    if not path.is_absolute():
        raise InvalidArguments(f"{label}: {text!r} is relative; give an absolute path")
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise InvalidArguments(f"{label}: {text!r} does not exist (on the worker's machine)") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidArguments(f"{label}: {text!r} cannot be read: {reason}") from None
    check_allowed(resolved, text, label, settings)
    return resolved


def check_allowed(resolved: Path, shown: str, label: str, settings: Settings) -> None:
    """Refuse a resolved path outside every root, or one whose components below its root name a secret."""
    roots = allowed_roots(settings)
    # The most specific root: an operator who lists /srv/.data as a root means files in it.
    root = max((r for r in roots if resolved.is_relative_to(r)), key=lambda r: len(r.parts), default=None)
    if root is None:
        raise Refused(
            f"{label}: {shown!r} is outside the allowed directories ({', '.join(map(str, roots))}); "
            "EXAI_FILE_ROOTS sets them"
        )
    found = secret_match(resolved.relative_to(root).parts, allow_patterns(settings.exai_file_allow_patterns))
    if found is not None:
        part, secret = found
        raise Refused(
            f"{label}: {shown!r} is refused: {part!r} matches the secret-file pattern {secret.pattern!r} "
            f"({secret.holds}); if such files hold no secret here, an operator can let the name through "
            "with EXAI_FILE_ALLOW_PATTERNS"
        )


def kind(mode: int) -> str:
    """What a file of this mode is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


@contextmanager
def opened(path: Path, label: str, shown: str, settings: Settings) -> Iterator[tuple[int, os.stat_result]]:
    """The descriptor of the regular file at the resolved ``path``, and its fstat; Refused for
    anything else. Never blocks, whatever the path names."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        raise _open_refusal(path, label, shown, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(
                f"{label}: {shown!r} is {kind(info.st_mode)}, not a regular file: only regular files are read"
            )
        _check_opened(fd, path, label, shown, settings)
        yield fd, info
    finally:
        os.close(fd)


def read_limited(fd: int, info: os.stat_result, label: str, shown: str, limit: Limit) -> bytes:
    """The content of an open regular file, or InvalidArguments if it holds more than ``limit``."""
    if info.st_size > limit.max_bytes:
        raise InvalidArguments(
            f"{label}: {shown!r} is {info.st_size:,} bytes, above the {limit.max_bytes:,}-byte limit "
            f"({limit.setting}): {limit.advice}"
        )
    chunks: list[bytes] = []
    remaining = limit.max_bytes + 1
    while remaining > 0:
        chunk = os.read(fd, min(remaining, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit.max_bytes:
        raise InvalidArguments(
            f"{label}: {shown!r} holds more than the {limit.max_bytes:,}-byte limit ({limit.setting}) "
            f"although its size said {info.st_size:,} bytes (it is growing, or its size is not known "
            f"in advance): {limit.advice}"
        )
    return data


def read_regular(path: Path, label: str, shown: str, limit: Limit, settings: Settings) -> bytes:
    """Open, check and read one resolved path (see :func:`opened` and :func:`read_limited`)."""
    with opened(path, label, shown, settings) as (fd, info):
        return read_limited(fd, info, label, shown, limit)


def _open_refusal(path: Path, label: str, shown: str, exc: OSError) -> InvalidArguments:
    if exc.errno == errno.ELOOP:
        return Refused(f"{label}: {shown!r} turned into a symbolic link after it was checked; not followed")
    if exc.errno == errno.ENOENT:
        return InvalidArguments(f"{label}: {shown!r} no longer exists (on the worker's machine)")
    if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EOPNOTSUPP):
        # A socket (or a device without a driver) cannot be opened at all: say what it is.
        try:
            what = kind(os.lstat(path).st_mode)
        except OSError:
            what = "not a regular file"
        return Refused(f"{label}: {shown!r} is {what}, not a regular file: only regular files are read")
    return InvalidArguments(f"{label}: {shown!r} cannot be read: {exc.strerror or exc}")


def _check_opened(fd: int, path: Path, label: str, shown: str, settings: Settings) -> None:
    """Check the file really opened, where the system can say: a directory of ``path`` swapped for
    a symlink between the check and the open (O_NOFOLLOW guards only the last component) shows."""
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return  # no /proc: the checks before the open stand
    if real != str(path):
        check_allowed(Path(real), shown, label, settings)
