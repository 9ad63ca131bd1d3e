"""File rules: regular files under the allowed roots only, no traversal, symlink escape or secret file,
size budget, every problem named by its argument."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from contracts.errors import InvalidArguments
from contracts.settings import load_settings
from tests.workers.test_file_access import BOUND_S, open_writer, within
from workers.files import read_files


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "pkg").mkdir(parents=True)
    (tmp_path / "root" / "pkg" / "a.py").write_text("print('a')\n")
    (tmp_path / "root" / "pkg" / ".hidden").write_text("secret\n")
    (tmp_path / "outside.txt").write_text("not yours\n")
    return tmp_path / "root"


def settings_for(root: Path, **extra: object):  # type: ignore[no-untyped-def]
    return load_settings(exai_file_roots=str(root), **extra)


def test_a_file_under_the_root_is_embedded_with_its_text(root: Path) -> None:
    """A plain file under an allowed root comes back with its content."""
    files = read_files([str(root / "pkg" / "a.py")], settings_for(root))
    assert [f.text for f in files] == ["print('a')\n"]


def test_dot_dot_cannot_leave_the_root(root: Path) -> None:
    """`root/../outside.txt` resolves outside the root and is refused, naming the setting."""
    with pytest.raises(InvalidArguments, match=r"outside the allowed directories.*EXAI_FILE_ROOTS"):
        read_files([str(root / ".." / "outside.txt")], settings_for(root))


def test_a_symlink_pointing_outside_the_root_is_refused(root: Path) -> None:
    """A link inside the root to a file outside it does not escape."""
    link = root / "link.txt"
    link.symlink_to(root.parent / "outside.txt")
    with pytest.raises(InvalidArguments, match="outside the allowed"):
        read_files([str(link)], settings_for(root))


def test_relative_missing_too_large_and_binary_files_are_each_reported(root: Path) -> None:
    """Every problem is named in one error a person can act on."""
    (root / "big.txt").write_text("x" * 2000)
    (root / "blob.bin").write_bytes(b"\0\1\2")
    with pytest.raises(InvalidArguments) as caught:
        read_files(
            ["pkg/a.py", str(root / "nope.txt"), str(root / "big.txt"), str(root / "blob.bin")],
            settings_for(root, exai_file_max_bytes=1000),
        )
    problems = caught.value.data["problems"]
    assert problems[0].startswith("files[0]: 'pkg/a.py' is relative") and "absolute path" in problems[0]
    assert problems[1].startswith("files[1]:") and "does not exist" in problems[1]
    assert problems[2].startswith("files[2]:") and "EXAI_FILE_MAX_BYTES" in problems[2]
    assert problems[3].startswith("files[3]:") and "binary" in problems[3]


def test_the_total_size_budget_stops_at_the_file_that_exceeds_it(root: Path) -> None:
    """Files adding up past EXAI_FILES_MAX_TOTAL_BYTES are refused with the setting named."""
    for name in ("one.txt", "two.txt"):
        (root / name).write_text("y" * 600)
    with pytest.raises(InvalidArguments, match="EXAI_FILES_MAX_TOTAL_BYTES"):
        read_files(
            [str(root / "one.txt"), str(root / "two.txt")],
            settings_for(root, exai_files_max_total_bytes=1000),
        )


def test_a_directory_stands_for_its_visible_files_each_once(root: Path) -> None:
    """Hidden files are skipped and a file named twice is embedded once."""
    files = read_files([str(root / "pkg"), str(root / "pkg" / "a.py")], settings_for(root))
    assert [Path(f.path).name for f in files] == ["a.py"]


def test_secret_files_named_explicitly_are_refused_naming_file_and_pattern(root: Path) -> None:
    """.env, .git/config, key.pem and id_rsa are each refused by name, with the pattern and the setting."""
    (root / ".env").write_text("KIMI_API_KEY=sk-live-secret\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[remote]\n")
    (root / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (root / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    names = [".env", ".git/config", "key.pem", "id_rsa"]
    with pytest.raises(InvalidArguments) as caught:
        read_files([str(root / n) for n in names], settings_for(root))
    problems = caught.value.data["problems"]
    expected = [(".env", ".*"), (".git", ".*"), ("key.pem", "*.pem"), ("id_rsa", "id_rsa*")]
    assert len(problems) == 4
    for index, (problem, (part, pattern)) in enumerate(zip(problems, expected, strict=True)):
        assert problem.startswith(f"files[{index}]: '{root / names[index]}' is refused: '{part}' matches")
        assert f"pattern '{pattern}'" in problem and "EXAI_FILE_ALLOW_PATTERNS" in problem
    assert "sk-live-secret" not in caught.value.message


def test_a_link_with_an_innocent_name_to_a_secret_file_is_refused(root: Path) -> None:
    """The resolved path is what is judged, so `notes.txt -> .env` does not read .env."""
    (root / ".env").write_text("GLM_API_KEY=secret\n")
    (root / "notes.txt").symlink_to(root / ".env")
    with pytest.raises(InvalidArguments, match=r"files\[0\]: .*'\.env' matches the secret-file pattern"):
        read_files([str(root / "notes.txt")], settings_for(root))


def test_an_allow_pattern_lets_the_operator_s_chosen_names_through(root: Path) -> None:
    """With EXAI_FILE_ALLOW_PATTERNS=.github a workflow file is read, named or walked; .env still is not."""
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (root / ".env").write_text("KEY=1\n")
    settings = settings_for(root, exai_file_allow_patterns=".github")
    named = read_files([str(root / ".github" / "workflows" / "ci.yml")], settings)
    walked = read_files([str(root)], settings)
    assert [f.text for f in named] == ["on: push\n"]
    assert sorted(Path(f.path).name for f in walked) == ["a.py", "ci.yml"]
    with pytest.raises(InvalidArguments, match="secret-file pattern"):
        read_files([str(root / ".env")], settings)


def test_a_fifo_named_in_files_is_refused_at_once(root: Path) -> None:
    """The FIFO is named in the error, read_files returns within the bound, and nothing waits for a writer."""
    fifo = root / "pipe.py"
    os.mkfifo(fifo)
    raised = within(BOUND_S, lambda: read_files([str(fifo)], settings_for(root)), open_writer(fifo))
    assert isinstance(raised, InvalidArguments)
    assert (
        raised.message
        == f"files[0]: '{fifo}' is a FIFO (named pipe), not a regular file: only regular files are read"
    )


def test_a_directory_walk_leaves_out_secret_and_non_regular_entries(root: Path) -> None:
    """Walking the root skips .env, key.pem, .git/, a FIFO, a socket and a link to a secret, silently."""
    (root / ".env").write_text("KEY=1\n")
    (root / "key.pem").write_text("pem\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref\n")
    (root / "pkg" / "link.txt").symlink_to(root / ".env")
    os.mkfifo(root / "pkg" / "pipe.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "pkg" / "agent.sock"))
    read: list[list[str]] = []
    try:
        raised = within(
            BOUND_S,
            lambda: read.append([Path(f.path).name for f in read_files([str(root)], settings_for(root))]),
            open_writer(root / "pkg" / "pipe.txt"),
        )
    finally:
        server.close()
    assert raised is None
    assert read == [["a.py"]]


def test_a_nul_byte_in_one_path_is_reported_with_the_others(root: Path) -> None:
    """A path with NUL is named by its index; the other paths are still checked and reported."""
    with pytest.raises(InvalidArguments) as caught:
        read_files([str(root / "pkg" / "a.py"), str(root / "a\0b"), "/\udc80"], settings_for(root))
    problems = caught.value.data["problems"]
    assert [p.split(":")[0] for p in problems] == ["files[1]", "files[2]"]
    assert "NUL byte" in problems[0] and "lone surrogate" in problems[1]
