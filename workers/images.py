"""Images a call sends to a model: regular files under the allowed roots, or ``data:`` URLs, size-checked.

Files are opened and read as ``workers.file_access`` says (never a FIFO, socket, device or
directory, never a secret file); every problem is reported at once, each naming its argument
(``images[0]: …``).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Iterable
from typing import Any

from contracts.errors import InvalidArguments
from contracts.settings import Settings
from workers.file_access import Limit, checked_text, opened, read_limited, resolve

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_DATA_URL = re.compile(r"^data:(image/[a-z+.-]+);base64,(.*)$", re.DOTALL)


def _limit(settings: Settings) -> Limit:
    return Limit(settings.exai_image_max_bytes, "EXAI_IMAGE_MAX_BYTES", "send a smaller image")


def _from_data_url(label: str, raw: str, settings: Settings) -> str:
    match = _DATA_URL.match(raw)
    if match is None or match.group(1) not in IMAGE_TYPES:
        raise InvalidArguments(
            f"{label}: an image data URL must look like data:<{'|'.join(IMAGE_TYPES)}>;base64,<data>"
        )
    try:
        size = len(base64.b64decode(match.group(2), validate=True))
    except (binascii.Error, ValueError):
        raise InvalidArguments(f"{label}: the image data URL does not hold valid base64") from None
    limit = _limit(settings)
    if size > limit.max_bytes:
        raise InvalidArguments(
            f"{label}: the data URL image is {size:,} bytes, above the {limit.max_bytes:,}-byte limit "
            f"({limit.setting}): {limit.advice}"
        )
    return raw


def _from_path(label: str, raw: str, settings: Settings) -> str:
    path = resolve(raw, label, settings)
    with opened(path, label, raw, settings) as (fd, info):
        mime = mimetypes.guess_type(path.name)[0]
        if mime not in IMAGE_TYPES:
            raise InvalidArguments(f"{label}: image {raw!r} is not one of {', '.join(IMAGE_TYPES)}")
        data = read_limited(fd, info, label, raw, _limit(settings))
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_parts(
    images: Iterable[object], settings: Settings, *, argument: str = "images"
) -> list[dict[str, Any]]:
    """Chat content parts for the images; every problem reported at once."""
    parts: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, raw in enumerate(images):
        label = f"{argument}[{index}]"
        try:
            text = checked_text(raw, label)
            url = (
                _from_data_url(label, text, settings)
                if text.startswith("data:")
                else _from_path(label, text, settings)
            )
        except InvalidArguments as exc:
            problems.append(exc.message)
            continue
        parts.append({"type": "image_url", "image_url": {"url": url}})
    if problems:
        raise InvalidArguments("; ".join(problems), data={"problems": problems})
    return parts
