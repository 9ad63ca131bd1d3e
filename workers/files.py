"""Reading the files a call names: regular text files under the allowed roots, within a size budget.

Paths must be absolute. Each is resolved with every symlink followed before the check, so neither
``..`` nor a symlink can lead outside the roots (EXAI_FILE_ROOTS, default the worker's working
directory), and opened and read as ``workers.file_access`` says: never a FIFO, socket or device,
never a secret file (``workers.secret_files``). A directory stands for the regular files under it,
secret names and anything else left out. Every problem is collected and reported at once, each
naming its argument (``files[2]: …``) and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import InvalidArguments
from contracts.settings import Settings
from workers.file_access import Limit, Refused, checked_text, read_regular, resolve
from workers.secret_files import allow_patterns, secret_match

MAX_DIRECTORY_FILES = 500  # entries looked at per directory before giving up on walking it
BINARY_SNIFF_BYTES = 8192  # a NUL byte in this much of a file makes it binary


@dataclass(frozen=True)
class EmbeddedFile:
    path: str
    text: str

    def block(self) -> str:
        return f"--- BEGIN FILE: {self.path} ---\n{self.text}\n--- END FILE: {self.path} ---"


@dataclass(frozen=True)
class _Entry:
    label: str  # the argument that named it: files[2], relevant_files[0] (step 1)
    shown: str  # the path as named, or the entry found walking the named directory
    path: Path  # resolved
    walked: bool  # found in a directory: left out rather than refused when it may not be read


def labelled(argument: str, paths: Iterable[object]) -> list[tuple[str, object]]:
    """``(argument[i], path)`` for each path, the labels errors name."""
    return [(f"{argument}[{index}]", raw) for index, raw in enumerate(paths)]


def check_texts(items: Iterable[tuple[str, object]]) -> None:
    """Refuse, in one error naming each, paths that cannot be paths at all (NUL bytes, lone
    surrogates), for arguments recorded now and read only at a later step."""
    problems: list[str] = []
    for label, raw in items:
        try:
            checked_text(raw, label)
        except InvalidArguments as exc:
            problems.append(exc.message)
    if problems:
        raise InvalidArguments("; ".join(problems), data={"problems": problems})


def _expand(label: str, raw: object, settings: Settings) -> list[_Entry]:
    resolved = resolve(raw, label, settings)
    if not resolved.is_dir():
        return [_Entry(label, str(raw), resolved, walked=False)]
    allowed = allow_patterns(settings.exai_file_allow_patterns)
    out: list[_Entry] = []
    for dirpath, dirnames, filenames in os.walk(resolved):
        dirnames[:] = sorted(d for d in dirnames if secret_match([d], allowed) is None)
        for name in sorted(filenames):
            candidate = str(Path(dirpath) / name)
            try:
                # A symlink inside an allowed directory may still point outside it, or at a secret.
                out.append(_Entry(label, candidate, resolve(candidate, label, settings), walked=True))
            except InvalidArguments:
                continue
            if len(out) >= MAX_DIRECTORY_FILES:
                return out
    return out


def read_labelled(
    items: Iterable[tuple[str, object]], settings: Settings, *, skip: Iterable[str] = ()
) -> list[EmbeddedFile]:
    """The text of each named file, in order, each at most once; ``skip`` names files already
    embedded. Raises one InvalidArguments listing every problem, each under its label."""
    seen = {str(p) for p in skip}
    problems: list[str] = []
    files: list[EmbeddedFile] = []
    total = 0
    limit = Limit(settings.exai_file_max_bytes, "EXAI_FILE_MAX_BYTES", "send a smaller file or an excerpt")
    for label, raw in items:
        try:
            expanded = _expand(label, raw, settings)
        except InvalidArguments as exc:
            problems.append(exc.message)
            continue
        for entry in expanded:
            if str(entry.path) in seen:
                continue
            seen.add(str(entry.path))
            try:
                data = read_regular(entry.path, entry.label, entry.shown, limit, settings)
            except Refused as exc:
                if not entry.walked:
                    problems.append(exc.message)
                continue
            except InvalidArguments as exc:
                problems.append(exc.message)
                continue
            if b"\0" in data[:BINARY_SNIFF_BYTES]:
                problems.append(
                    f"{entry.label}: {entry.shown!r} is binary, not text; send images with 'images'"
                )
                continue
            total += len(data)
            if total > settings.exai_files_max_total_bytes:
                problems.append(
                    f"the files add up to more than {settings.exai_files_max_total_bytes:,} bytes "
                    f"(EXAI_FILES_MAX_TOTAL_BYTES) at {entry.label} {entry.shown!r}: send fewer files"
                )
                break
            files.append(EmbeddedFile(str(entry.path), data.decode("utf-8", errors="replace")))
    if problems:
        raise InvalidArguments("; ".join(problems), data={"problems": problems})
    return files


def read_files(
    paths: Iterable[object], settings: Settings, *, argument: str = "files", skip: Iterable[str] = ()
) -> list[EmbeddedFile]:
    """The text of each file of the ``argument`` array (see :func:`read_labelled`)."""
    return read_labelled(labelled(argument, paths), settings, skip=skip)


def files_block(files: list[EmbeddedFile]) -> str:
    if not files:
        return ""
    return "Files for reference:\n\n" + "\n\n".join(f.block() for f in files)
