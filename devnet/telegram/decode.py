"""Request bodies as the Bot API accepts them, decoded into typed parameters.

The Bot API takes parameters four ways: the URL query, `application/x-www-form-urlencoded`,
`application/json` and `multipart/form-data` (files). In the form encodings every value is a
string: python-telegram-bot sends strings as they are and JSON-encodes everything else
(`reply_markup`, `chat_id` 42, `true`). Which it was is only known from the spec's field types, so
each value is read as the spec's types for that field allow: a field that may only be a String
keeps its text, others are JSON-decoded (a String alternative such as `@channel` is kept if the
text is not JSON). A file part becomes an `Upload`; `attach://name` points at one.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .spec import ApiSpec, Field, Upload


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """The raw parameters (strings, or decoded JSON) and the uploaded files of one request."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    ctype = request.content_type
    if request.method == "POST" and request.can_read_body:
        if ctype == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the JSON body must be an object")
            return {**raw, **body}, files
        if ctype == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None:
                    files[part.name] = Upload(part.name, part.filename, await part.read(),
                                              part.headers.get("Content-Type", "application/octet-stream"))
                else:
                    raw[part.name] = await part.text()
        else:
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    return raw, files


def typed_params(spec: ApiSpec, method: str, raw: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    """Each parameter as its spec field types read it; files under their field name."""
    fields = spec.fields(method)
    out: dict[str, Any] = {}
    for name, value in raw.items():
        out[name] = _typed(fields.get(name), value, files) if isinstance(value, str) else value
    for name, upload in files.items():
        if name in fields and name not in out:
            out[name] = upload
    return out


def _typed(field: Field | None, text: str, files: dict[str, Upload]) -> Any:
    if text.startswith("attach://") and text[len("attach://"):] in files:
        return files[text[len("attach://"):]]
    types = field.types if field else ()
    if types and all(t in ("String", "InputFile") for t in types):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, str) or (field is not None and "String" in types and not _is_json_shaped(value, types)):
        return text
    return _resolve_attachments(value, files)


def _is_json_shaped(value: Any, types: tuple[str, ...]) -> bool:
    """Whether a decoded value can be meant for the non-String alternatives (`chat_id` "-100" → -100)."""
    if isinstance(value, bool):
        return "Boolean" in types or "True" in types
    if isinstance(value, int):
        return "Integer" in types or "Float" in types
    if isinstance(value, float):
        return "Float" in types
    return isinstance(value, (dict, list))


def _resolve_attachments(value: Any, files: dict[str, Upload]) -> Any:
    """`attach://name` inside media objects (sendMediaGroup, editMessageMedia) points at a part."""
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_attachments(v, files) for v in value]
    if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
        return files[value[9:]]
    return value
