"""Frames between the API process and its sandbox workers.

A frame is one kind byte, an 8-byte length and the payload. The API process sends pickles (the
worker trusts it: tables travel as DataFrames); workers answer in JSON and raw bytes only, so the API
process never unpickles anything that came from a worker.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
from typing import Any

HEADER = struct.Struct(">cQ")
PICKLE = b"P"
JSON = b"J"
RAW = b"R"


class Closed(Exception):
    """The other end went away."""


def write_frame(fd: int, kind: bytes, payload: bytes) -> None:
    """Write one frame to a file descriptor."""
    data = memoryview(HEADER.pack(kind, len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly ``size`` bytes, or raise :class:`Closed`."""
    parts: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise Closed("the pipe closed")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_frame(fd: int, *, limit: int | None = None) -> tuple[bytes, bytes]:
    """Read one frame; refuse one longer than ``limit`` bytes."""
    kind, size = HEADER.unpack(read_exact(fd, HEADER.size))
    if limit is not None and size > limit:
        raise Closed(f"a frame of {size} bytes is over the limit of {limit}")
    return kind, read_exact(fd, size)


def send_pickle(fd: int, message: Any) -> None:
    """Send a message from the API process to a worker."""
    write_frame(fd, PICKLE, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def send_json(fd: int, message: dict[str, Any]) -> None:
    """Send a message from a worker to the API process."""
    write_frame(fd, JSON, json.dumps(message).encode())
