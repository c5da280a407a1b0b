"""The signature verification worker: a child process of the ingest service (`verifier.py`).

Reads requests from stdin and answers each on stdout, in order, until stdin closes. A request
is `>II` (item count, body length) and a body of items, each `>HHI` (key, signature and
message lengths) followed by those bytes; the answer is one byte per item, 1 when
`signature_valid` holds. Imports nothing but libsodium, so it starts in a fraction of a second.
"""

from __future__ import annotations

import struct
import sys
from typing import BinaryIO, Final

from shared.contract.ed25519 import signature_valid

REQUEST_HEAD: Final = struct.Struct(">II")
ITEM_HEAD: Final = struct.Struct(">HHI")


def encode_request(items: list[tuple[bytes, bytes, bytes]]) -> bytes:
    parts: list[bytes] = []
    for public_key, signature, message in items:
        parts += (ITEM_HEAD.pack(len(public_key), len(signature), len(message)), public_key)
        parts += (signature, message)
    body = b"".join(parts)
    return REQUEST_HEAD.pack(len(items), len(body)) + body


def answer(count: int, body: bytes) -> bytes:
    results = bytearray(count)
    position = 0
    for index in range(count):
        key_len, sig_len, msg_len = ITEM_HEAD.unpack_from(body, position)
        position += ITEM_HEAD.size
        public_key = body[position : position + key_len]
        position += key_len
        signature = body[position : position + sig_len]
        position += sig_len
        message = body[position : position + msg_len]
        position += msg_len
        results[index] = signature_valid(public_key, signature, message)
    return bytes(results)


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    while True:
        head = source.read(REQUEST_HEAD.size)
        if len(head) < REQUEST_HEAD.size:
            return  # stdin closed: the service stopped
        count, length = REQUEST_HEAD.unpack(head)
        body = source.read(length)
        if len(body) < length:
            return
        sink.write(answer(count, body))
        sink.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
