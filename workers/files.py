"""Reading the files a call names: only under the allowed roots, within a size budget.

Paths must be absolute. Each is resolved with every symlink followed before the check, so neither
``..`` nor a symlink can lead outside the roots (EXAI_FILE_ROOTS, default the worker's working
directory). A directory stands for the text files under it (hidden entries skipped). Every problem
is collected and reported at once, naming the file and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import InvalidArguments
from contracts.settings import Settings

MAX_DIRECTORY_FILES = 500  # entries looked at per directory before giving up on walking it


@dataclass(frozen=True)
class EmbeddedFile:
    path: str
    text: str

    def block(self) -> str:
        return f"--- BEGIN FILE: {self.path} ---\n{self.text}\n--- END FILE: {self.path} ---"


def allowed_roots(settings: Settings) -> list[Path]:
    raw = settings.exai_file_roots
    names = [r.strip() for r in raw.split(",") if r.strip()] if raw else [os.getcwd()]
    return [Path(r).expanduser().resolve() for r in names]


def check_path(raw: str, settings: Settings, what: str = "file") -> Path:
    """The resolved path of ``raw``, or InvalidArguments saying why it may not be read."""
    path = Path(raw)
    if not path.is_absolute():
        raise InvalidArguments(f"{what} {raw!r}: give an absolute path")
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise InvalidArguments(f"{what} {raw!r} does not exist (on the worker's machine)") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise InvalidArguments(f"{what} {raw!r} cannot be read: {exc}") from None
    roots = allowed_roots(settings)
    if not any(resolved.is_relative_to(root) for root in roots):
        raise InvalidArguments(
            f"{what} {raw!r} is outside the allowed directories ({', '.join(map(str, roots))}); "
            "EXAI_FILE_ROOTS sets them"
        )
    return resolved


def _expand(raw: str, settings: Settings) -> list[tuple[str, Path]]:
    resolved = check_path(raw, settings)
    if not resolved.is_dir():
        return [(raw, resolved)]
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(resolved):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            candidate = Path(dirpath) / name
            try:
                # A symlink inside an allowed directory may still point outside it.
                out.append((str(candidate), check_path(str(candidate), settings)))
            except InvalidArguments:
                continue
            if len(out) >= MAX_DIRECTORY_FILES:
                return out
    return out


def read_files(paths: Iterable[str], settings: Settings, *, skip: Iterable[str] = ()) -> list[EmbeddedFile]:
    """The text of each file, in order, each at most once; ``skip`` names files already embedded."""
    seen = {str(p) for p in skip}
    problems: list[str] = []
    files: list[EmbeddedFile] = []
    total = 0
    for raw in paths:
        try:
            expanded = _expand(raw, settings)
        except InvalidArguments as exc:
            problems.append(exc.message)
            continue
        for shown, resolved in expanded:
            if str(resolved) in seen:
                continue
            seen.add(str(resolved))
            size = resolved.stat().st_size
            if size > settings.exai_file_max_bytes:
                problems.append(
                    f"file {shown!r} is {size:,} bytes, above the {settings.exai_file_max_bytes:,}-byte "
                    "limit per file (EXAI_FILE_MAX_BYTES): send a smaller file or an excerpt"
                )
                continue
            data = resolved.read_bytes()
            if b"\0" in data[:8192]:
                problems.append(f"file {shown!r} is binary, not text; send images with 'images'")
                continue
            total += len(data)
            if total > settings.exai_files_max_total_bytes:
                problems.append(
                    f"the files add up to more than {settings.exai_files_max_total_bytes:,} bytes "
                    f"(EXAI_FILES_MAX_TOTAL_BYTES) at {shown!r}: send fewer files"
                )
                break
            files.append(EmbeddedFile(str(resolved), data.decode("utf-8", errors="replace")))
    if problems:
        raise InvalidArguments("; ".join(problems), data={"problems": problems})
    return files


def files_block(files: list[EmbeddedFile]) -> str:
    if not files:
        return ""
    return "Files for reference:\n\n" + "\n\n".join(f.block() for f in files)
