"""Image rules: regular image files under the roots or data URLs, size-checked, each problem named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.errors import InvalidArguments
from contracts.settings import Settings, load_settings
from tests.workers.test_file_access import BOUND_S, open_writer, within
from workers.images import image_parts

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def settings_for(root: Path, **extra: object) -> Settings:
    return load_settings(exai_file_roots=str(root), **extra)


def test_images_come_from_allowed_paths_or_data_urls(tmp_path: Path) -> None:
    """A PNG under the root becomes a data URL; a data URL passes; a text file is refused."""
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "a.py").write_text("print()\n")
    settings = settings_for(tmp_path)
    parts = image_parts([str(tmp_path / "shot.png"), "data:image/png;base64,iVBORw0KGgo="], settings)
    assert [p["image_url"]["url"][:22] for p in parts] == ["data:image/png;base64,"] * 2
    with pytest.raises(InvalidArguments, match=r"images\[0\]: image .* is not one of"):
        image_parts([str(tmp_path / "a.py")], settings)
    with pytest.raises(InvalidArguments, match=r"images\[0\]: .*EXAI_IMAGE_MAX_BYTES"):
        image_parts([str(tmp_path / "shot.png")], settings_for(tmp_path, exai_image_max_bytes=4))
    with pytest.raises(InvalidArguments, match=r"images\[1\]: .*base64"):
        image_parts([str(tmp_path / "shot.png"), "data:image/png;base64,***"], settings)


def test_a_fifo_named_as_an_image_is_refused_at_once(tmp_path: Path) -> None:
    """`images: ["/root/cam.png"]` where cam.png is a FIFO: refused by name within the bound."""
    fifo = tmp_path / "cam.png"
    os.mkfifo(fifo)
    raised = within(BOUND_S, lambda: image_parts([str(fifo)], settings_for(tmp_path)), open_writer(fifo))
    assert isinstance(raised, InvalidArguments)
    assert raised.message.startswith(f"images[0]: '{fifo}' is a FIFO (named pipe), not a regular file")


def test_a_directory_given_as_an_image_is_refused_as_a_directory(tmp_path: Path) -> None:
    """A directory, even one named like an image, is said to be a directory."""
    (tmp_path / "album.png").mkdir()
    with pytest.raises(
        InvalidArguments, match=r"images\[0\]: .*album\.png' is a directory, not a regular file"
    ):
        image_parts([str(tmp_path / "album.png")], settings_for(tmp_path))


def test_secret_and_invalid_image_paths_are_refused_naming_the_argument(tmp_path: Path) -> None:
    """A key file named as an image, a NUL byte and a lone surrogate each get their own line."""
    (tmp_path / "id_ed25519.png").write_bytes(PNG)
    with pytest.raises(InvalidArguments) as caught:
        image_parts([str(tmp_path / "id_ed25519.png"), "/x\0.png", "/\ud800.png"], settings_for(tmp_path))
    problems = caught.value.data["problems"]
    assert [p.split(":")[0] for p in problems] == ["images[0]", "images[1]", "images[2]"]
    assert "secret-file pattern 'id_ed25519*'" in problems[0]
    assert "NUL byte" in problems[1] and "lone surrogate" in problems[2]
