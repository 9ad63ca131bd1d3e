"""File rules: absolute paths under the allowed roots only, no traversal or symlink escape, size budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.errors import InvalidArguments
from contracts.settings import load_settings
from workers.files import read_files
from workers.images import image_parts

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


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
    message = caught.value.message
    assert "absolute path" in message
    assert "does not exist" in message
    assert "EXAI_FILE_MAX_BYTES" in message
    assert "binary" in message


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


def test_images_come_from_allowed_paths_or_data_urls(root: Path) -> None:
    """A PNG under the root becomes a data URL; a data URL passes; a text file is refused."""
    (root / "shot.png").write_bytes(PNG)
    parts = image_parts([str(root / "shot.png"), "data:image/png;base64,iVBORw0KGgo="], settings_for(root))
    assert [p["image_url"]["url"][:22] for p in parts] == ["data:image/png;base64,"] * 2
    with pytest.raises(InvalidArguments, match="is not one of"):
        image_parts([str(root / "pkg" / "a.py")], settings_for(root))
    with pytest.raises(InvalidArguments, match="EXAI_IMAGE_MAX_BYTES"):
        image_parts([str(root / "shot.png")], settings_for(root, exai_image_max_bytes=4))
    with pytest.raises(InvalidArguments, match="base64"):
        image_parts(["data:image/png;base64,***"], settings_for(root))
