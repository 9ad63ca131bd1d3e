"""Opening named files: only regular files, never blocking, checked on the descriptor, read bounded."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.errors import InvalidArguments
from contracts.settings import Settings, load_settings
from workers.file_access import Limit, Refused, opened, read_limited, read_regular, resolve

BOUND_S = 0.5  # a refusal is immediate: anything slower means something blocked
LIMIT = Limit(100, "EXAI_FILE_MAX_BYTES", "send less")


def settings_for(*roots: Path, **extra: Any) -> Settings:
    return load_settings(exai_file_roots=",".join(map(str, roots)), **extra)


def within(seconds: float, action: Callable[[], object], unblock: Callable[[], None]) -> BaseException | None:
    """Run ``action`` in a thread and return what it raised; fail if it is still running after
    ``seconds`` (then ``unblock`` it, so the test run does not hang on the same thing)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(5)
        pytest.fail(f"still blocked after {seconds} s")
    return raised[0] if raised else None


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    yield path


def open_writer(path: Path) -> Callable[[], None]:
    """Opening a FIFO's write end releases a reader blocked on it (if there is one)."""

    def unblock() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    return unblock


def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(tmp_path: Path, fifo: Path) -> None:
    """Opening a FIFO for reading would wait for a writer; it is refused by name within the bound."""
    settings = settings_for(tmp_path)
    raised = within(
        BOUND_S,
        lambda: read_regular(
            resolve(str(fifo), "files[0]", settings), "files[0]", str(fifo), LIMIT, settings
        ),
        open_writer(fifo),
    )
    assert isinstance(raised, Refused)
    assert raised.message.startswith(f"files[0]: '{fifo}' is a FIFO (named pipe), not a regular file")


def test_a_unix_socket_is_refused_by_name(tmp_path: Path) -> None:
    """A socket cannot be opened at all; the error says what it is."""
    path = tmp_path / "agent.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    settings = settings_for(tmp_path)
    try:
        with pytest.raises(Refused, match=r"files\[3\]: .* is a socket, not a regular file"):
            read_regular(resolve(str(path), "files[3]", settings), "files[3]", str(path), LIMIT, settings)
    finally:
        server.close()


def test_a_character_device_under_a_root_is_refused(tmp_path: Path) -> None:
    """/dev/zero never ends: read through a root that holds it, fstat sees a device and refuses."""
    settings = settings_for(Path("/dev"))
    with pytest.raises(Refused, match="is a character device, not a regular file"):
        read_regular(resolve("/dev/zero", "files[0]", settings), "files[0]", "/dev/zero", LIMIT, settings)
    own = tmp_path / "zero"
    try:
        os.mknod(own, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        return  # making devices needs CAP_MKNOD; the /dev case above stands
    settings = settings_for(tmp_path)
    with pytest.raises(Refused, match="is a character device"):
        read_regular(resolve(str(own), "files[0]", settings), "files[0]", str(own), LIMIT, settings)


def test_a_symlink_to_a_device_resolves_outside_the_root_and_is_refused(tmp_path: Path) -> None:
    """A link in the root to /dev/zero is judged by where it leads."""
    link = tmp_path / "zeros.txt"
    link.symlink_to("/dev/zero")
    with pytest.raises(Refused, match="outside the allowed directories"):
        resolve(str(link), "files[0]", settings_for(tmp_path))


def test_a_file_larger_than_its_size_says_is_caught_reading_one_byte_past_the_limit() -> None:
    """/proc files say 0 bytes; reading stops at the limit + 1 and the file is refused."""
    settings = settings_for(Path("/proc"))
    path = resolve("/proc/self/status", "files[0]", settings)
    assert path.stat().st_size == 0
    with pytest.raises(InvalidArguments, match=r"holds more than the 100-byte limit.*EXAI_FILE_MAX_BYTES"):
        read_regular(path, "files[0]", "/proc/self/status", LIMIT, settings)


def test_a_file_that_grows_after_its_fstat_is_caught(tmp_path: Path) -> None:
    """Under the limit when opened, past it when read: refused, having read at most limit + 1 bytes."""
    path = tmp_path / "log.txt"
    path.write_text("x" * 10)
    settings = settings_for(tmp_path)
    with opened(resolve(str(path), "files[0]", settings), "files[0]", str(path), settings) as (fd, info):
        assert info.st_size == 10
        with path.open("a") as writer:
            writer.write("y" * 10_000)
        with pytest.raises(InvalidArguments, match="it is growing"):
            read_limited(fd, info, "files[0]", str(path), LIMIT)
        assert os.lseek(fd, 0, os.SEEK_CUR) == LIMIT.max_bytes + 1


def test_a_symlink_swapped_in_after_the_check_is_not_followed(tmp_path: Path) -> None:
    """The resolved path is opened with O_NOFOLLOW: a link put in its place meanwhile is refused."""
    (tmp_path / "notes.txt").write_text("fine")
    (tmp_path / "other.txt").write_text("also fine")
    settings = settings_for(tmp_path)
    path = resolve(str(tmp_path / "notes.txt"), "files[0]", settings)
    path.unlink()
    path.symlink_to(tmp_path / "other.txt")
    with pytest.raises(Refused, match="turned into a symbolic link"):
        read_regular(path, "files[0]", str(path), LIMIT, settings)


def test_a_directory_swapped_for_a_link_outside_after_the_check_is_refused(tmp_path: Path) -> None:
    """What was really opened is checked again, so a parent directory replaced meanwhile cannot escape."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "a.txt").write_text("inside")
    (outside / "a.txt").write_text("outside")
    settings = settings_for(root)
    path = resolve(str(root / "sub" / "a.txt"), "files[0]", settings)
    (root / "sub").rename(root / "old")
    (root / "sub").symlink_to(outside)
    with pytest.raises(Refused, match="outside the allowed directories"):
        read_regular(path, "files[0]", str(path), LIMIT, settings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/tmp/a\0b", r"files\[1\]: '/tmp/a\\x00b' contains a NUL byte"),
        ("/tmp/\ud800", r"files\[1\]: '/tmp/\\ud800' is not valid Unicode"),
        ("", r"files\[1\]: is empty"),
        (42, r"files\[1\]: must be a path \(a string\), got int"),
        ("relative/x.py", r"files\[1\]: 'relative/x.py' is relative; give an absolute path"),
    ],
)
def test_a_path_that_cannot_be_a_path_is_refused_naming_the_argument(
    tmp_path: Path, raw: object, expected: str
) -> None:
    """NUL bytes, lone surrogates, empty or non-string paths: a clear error, never an internal one."""
    with pytest.raises(InvalidArguments, match=expected):
        resolve(raw, "files[1]", settings_for(tmp_path))


def test_a_path_the_system_refuses_is_reported_with_the_system_s_reason(tmp_path: Path) -> None:
    """A name too long, or a file used as a directory: the argument and the reason, no traceback."""
    (tmp_path / "a.py").write_text("x")
    settings = settings_for(tmp_path)
    with pytest.raises(InvalidArguments, match=r"^files\[0\]: .* cannot be read: File name too long"):
        resolve(str(tmp_path / ("n" * 300)), "files[0]", settings)
    with pytest.raises(InvalidArguments, match=r"^files\[0\]: .* cannot be read: Not a directory"):
        resolve(str(tmp_path / "a.py" / "b.py"), "files[0]", settings)
