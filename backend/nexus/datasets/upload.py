"""Receive a multipart upload straight to disk, under a size limit, without holding it in memory.

Starlette's own form parsing spools files to anonymous temporary files that would have to be copied
again; this parser writes the ``file`` part to our upload path as it arrives (in ~1 MiB writes done
off the event loop) and keeps only small text fields (``name``) in memory.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from nexus.datasets.storage import DatasetStore
from nexus.errors import BadRequest, PayloadTooLarge, UnprocessableContent, UnsupportedMediaType

_FLUSH_BYTES = 1024 * 1024
_MAX_FIELD_BYTES = 4096
MAX_NAME_CHARS = 255


@dataclass
class Upload:
    """A received file."""

    path: Path
    filename: str
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)


def clean_filename(raw: str) -> str:
    """Return the file's own name (no directories), or raise 422 for names no file system would give."""
    if "\x00" in raw or any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise UnprocessableContent("The file name contains control characters (such as NUL).")
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    if name in {"", ".", ".."}:
        raise UnprocessableContent("The upload has no file name.")
    if len(name) > MAX_NAME_CHARS:
        raise UnprocessableContent(f"The file name is longer than {MAX_NAME_CHARS} characters.")
    return name


class _Receiver:
    """Collects multipart callbacks into one file on disk and a few small fields."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.handle: io.BufferedWriter | None = None
        self.buffer = bytearray()
        self.size = 0
        self.digest = hashlib.sha256()
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_done = False
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._current: str | None = None
        self._is_file = False
        self._field_value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("_header_field", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("_header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def _part_begin(self) -> None:
        self._headers = {}
        self._field_value = bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._current = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._is_file = filename is not None and self._current == "file"
        if self._is_file:
            if self.filename is not None:
                raise UnprocessableContent("Send one file per upload.")
            self.filename = (filename or b"").decode("utf-8", "replace")
            self.handle = self.path.open("wb")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.size += len(chunk)
            if self.size > self.limit:
                raise PayloadTooLarge(
                    f"The file is larger than the upload limit of {self.limit // 1_048_576} MiB."
                )
            self.digest.update(chunk)
            self.buffer += chunk
        else:
            self._field_value += chunk
            if len(self._field_value) > _MAX_FIELD_BYTES:
                raise UnprocessableContent(f"The field {self._current!r} is too long.")

    def _part_end(self) -> None:
        if self._is_file:
            self.file_done = True
        elif self._current:
            self.fields[self._current] = self._field_value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True

    def take_buffer(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


async def receive_upload(request: Request, path: Path, limit: int) -> Upload:
    """Stream the request's multipart body: the ``file`` part to ``path``, small fields to memory."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType("Upload the file as multipart/form-data with a `file` part.")
    receiver = _Receiver(path, limit)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if receiver.handle is not None and len(receiver.buffer) >= _FLUSH_BYTES:
                await anyio.to_thread.run_sync(receiver.handle.write, receiver.take_buffer())
        parser.finalize()
        if receiver.handle is not None:
            await anyio.to_thread.run_sync(receiver.handle.write, receiver.take_buffer())
    except ClientDisconnect as error:
        raise BadRequest("The upload was cut off before it ended.") from error
    except (PayloadTooLarge, UnprocessableContent):
        raise
    except Exception as error:  # noqa: BLE001 - python-multipart raises several kinds on bad bodies
        raise BadRequest("The multipart body is malformed.") from error
    finally:
        if receiver.handle is not None:
            receiver.handle.close()
    if receiver.filename is None:
        raise UnprocessableContent("The upload has no `file` part.")
    if not receiver.file_done or not receiver.ended:
        raise BadRequest("The upload was cut off before it ended.")
    return Upload(
        path=path,
        filename=clean_filename(receiver.filename),
        size=receiver.size,
        sha256=receiver.digest.hexdigest(),
        fields=receiver.fields,
    )


async def receive_into_uploads(request: Request, data_dir: Path, limit: int) -> Upload:
    """Receive a multipart upload into a fresh file under the data dir's uploads; on failure, none."""
    path = DatasetStore(data_dir).new_upload_path()
    try:
        return await receive_upload(request, path, limit)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def upload_openapi(file_description: str, field: str, field_description: str) -> dict[str, Any]:
    """Return the OpenAPI request body of a multipart upload: ``file`` and one optional text field."""
    properties = {
        "file": {"type": "string", "format": "binary", "description": file_description},
        field: {"type": "string", "maxLength": MAX_NAME_CHARS, "description": field_description},
    }
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
