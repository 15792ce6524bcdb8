"""Files sent by the bot: photos (must be real images: Telegram decodes them) and documents.

A photo upload that is no image is refused "IMAGE_PROCESS_FAILED"; photos are at most 10 MB with
width + height at most 10,000, documents at most 50 MB and never empty. A string instead of an
upload is a file_id sent before (a URL cannot be fetched here: there is no internet).
"""
from __future__ import annotations

import struct
from typing import Any

from .errors import ApiError, bad_request, refused
from .spec import Upload
from .world import StoredFile, World

PHOTO_MAX, DOCUMENT_MAX = 10 * 1024 * 1024, 50 * 1024 * 1024


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image, or None if it is none of those."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def _known(world: World, ref: Any) -> StoredFile:
    if isinstance(ref, str) and ref in world.files:
        return world.files[ref]
    if isinstance(ref, str) and ref.startswith(("http://", "https://")):
        raise refused("failed to get HTTP URL content")
    raise refused("wrong file identifier/HTTP URL specified")


def photo_sizes(world: World, ref: Any) -> list[dict[str, Any]]:
    if isinstance(ref, Upload):
        if len(ref.content) > PHOTO_MAX:
            raise bad_request("file is too big")
        size = image_size(ref.content)
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or width == 0 or height == 0 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        stored = world.store_file(ref.content, ref.filename or "photo.jpg", "image/jpeg", "photos")
    else:
        stored = _known(world, ref)
        width, height = image_size(stored.content) or (0, 0)
    full = {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "width": width, "height": height,
            "file_size": len(stored.content)}
    scale = min(1.0, 90 / max(width, height, 1))
    thumb = {**full, "file_id": stored.file_id + "_s", "file_unique_id": stored.unique_id + "s",
             "width": max(1, int(width * scale)), "height": max(1, int(height * scale))}
    world.files.setdefault(thumb["file_id"], stored)
    return [thumb, full] if scale < 1.0 else [full]


def document(world: World, ref: Any) -> dict[str, Any]:
    if isinstance(ref, Upload):
        if not ref.content:
            raise bad_request("file must be non-empty")
        if len(ref.content) > DOCUMENT_MAX:
            raise ApiError(413, "Request Entity Too Large", violation=True)
        stored = world.store_file(ref.content, ref.filename or "document", ref.content_type, "documents")
    else:
        stored = _known(world, ref)
    return {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "file_name": stored.file_name,
            "mime_type": stored.mime_type, "file_size": len(stored.content)}


def file_object(stored: StoredFile) -> dict[str, Any]:
    return {"file_id": stored.file_id, "file_unique_id": stored.unique_id, "file_size": len(stored.content),
            "file_path": stored.path}
