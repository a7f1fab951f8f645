"""RecordIO framing of the Mesos v1 streams: ``<decimal length>\\n<record>``, split anywhere."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["Decoder", "RecordIOError", "encode"]

MAX_RECORD = 64 * 1024 * 1024  # a length beyond this is a corrupt stream, not a record


class RecordIOError(ValueError):
    pass


class Decoder:
    """Feed byte pieces as they arrive; get the complete records (decoded JSON) out."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need: int | None = None  # length of the record being read, once its header is in

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        out = []
        while True:
            if self._need is None:
                nl = self._buf.find(b"\n")
                if nl < 0:
                    if len(self._buf) > 20:
                        raise RecordIOError(f"no record length in {bytes(self._buf[:20])!r}")
                    return out
                header = bytes(self._buf[:nl]).strip()
                if not header.isdigit() or not 0 < int(header) <= MAX_RECORD:
                    raise RecordIOError(f"invalid record length {header!r}")
                self._need = int(header)
                del self._buf[: nl + 1]
            if len(self._buf) < self._need:
                return out
            record = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            self._need = None
            try:
                out.append(orjson.loads(record))
            except orjson.JSONDecodeError as e:
                raise RecordIOError(f"record is not JSON: {e}") from None

    @property
    def pending(self) -> int:
        return len(self._buf)


def encode(record: Any) -> bytes:
    data = orjson.dumps(record)
    return str(len(data)).encode() + b"\n" + data
