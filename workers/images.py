"""Images a call sends to a model: files under the allowed roots, or ``data:`` URLs, size-checked."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Iterable
from typing import Any

from contracts.errors import InvalidArguments
from contracts.settings import Settings
from workers.files import check_path

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_DATA_URL = re.compile(r"^data:(image/[a-z+.-]+);base64,(.*)$", re.DOTALL)


def _from_data_url(raw: str, settings: Settings) -> str:
    match = _DATA_URL.match(raw)
    if match is None or match.group(1) not in IMAGE_TYPES:
        raise InvalidArguments(f"image data URL must look like data:<{'|'.join(IMAGE_TYPES)}>;base64,<data>")
    try:
        size = len(base64.b64decode(match.group(2), validate=True))
    except (binascii.Error, ValueError):
        raise InvalidArguments("image data URL does not hold valid base64") from None
    _check_size(size, "data URL image", settings)
    return raw


def _check_size(size: int, what: str, settings: Settings) -> None:
    if size > settings.exai_image_max_bytes:
        raise InvalidArguments(
            f"{what} is {size:,} bytes, above the {settings.exai_image_max_bytes:,}-byte limit "
            "(EXAI_IMAGE_MAX_BYTES): send a smaller image"
        )


def _from_path(raw: str, settings: Settings) -> str:
    path = check_path(raw, settings, what="image")
    mime = mimetypes.guess_type(path.name)[0]
    if mime not in IMAGE_TYPES:
        raise InvalidArguments(f"image {raw!r} is not one of {', '.join(IMAGE_TYPES)}")
    _check_size(path.stat().st_size, f"image {raw!r}", settings)
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def image_parts(images: Iterable[str], settings: Settings) -> list[dict[str, Any]]:
    """Chat content parts for the images; every problem reported at once."""
    parts: list[dict[str, Any]] = []
    problems: list[str] = []
    for raw in images:
        try:
            url = _from_data_url(raw, settings) if raw.startswith("data:") else _from_path(raw, settings)
        except InvalidArguments as exc:
            problems.append(exc.message)
            continue
        parts.append({"type": "image_url", "image_url": {"url": url}})
    if problems:
        raise InvalidArguments("; ".join(problems), data={"problems": problems})
    return parts
