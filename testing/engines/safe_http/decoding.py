"""Content-Encoding decoders whose output is bounded, so a compression bomb stops at the size cap.

Each ``feed`` produces at most ``limit + 1`` bytes (zlib's ``max_length``; the input not yet
decompressed stays in ``unconsumed_tail``), so memory never exceeds the cap however well the body
compresses. Layers stack in the order the header lists them (``Content-Encoding: gzip, gzip``).
"""

from __future__ import annotations

import zlib

from testing.engines.safe_http.errors import ErrorKind, ScanError

SUPPORTED = ("gzip", "x-gzip", "deflate")
MAX_LAYERS = 2


class _ZlibLayer:
    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._raw_deflate = False
        self._started = False
        self._d = self._new()

    def _new(self) -> zlib._Decompress:
        if self.gzip:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        while data and len(out) <= limit:
            try:
                piece = self._d.decompress(data, limit + 1 - len(out))
            except zlib.error as exc:
                if not self.gzip and not self._started and not self._raw_deflate:
                    # "deflate" is sent both zlib-wrapped (RFC 9110) and raw (old servers); try raw.
                    self._raw_deflate = True
                    self._d = self._new()
                    continue
                raise ScanError(ErrorKind.DECODING, "the compressed body is corrupt") from exc
            self._started = True
            out += piece
            data = self._d.unconsumed_tail
            if self._d.eof:
                data = self._d.unused_data
                if not (self.gzip and data):
                    break  # trailing bytes after a deflate stream are ignored, as browsers do
                self._d = self._new()  # another gzip member
        if len(out) > limit:
            raise ScanError(ErrorKind.TOO_LARGE, "the decompressed body exceeds the size cap")
        return bytes(out)

    def flush(self, limit: int) -> bytes:
        try:
            rest = self._d.flush()
        except zlib.error as exc:
            raise ScanError(ErrorKind.DECODING, "the compressed body is corrupt") from exc
        if len(rest) > limit:
            raise ScanError(ErrorKind.TOO_LARGE, "the decompressed body exceeds the size cap")
        return rest


class BoundedDecoder:
    """Decodes a body as its ``Content-Encoding`` says, never producing more than ``cap`` bytes.

    Raises ``ScanError`` (``DECODING`` for a corrupt or unsupported encoding, ``TOO_LARGE`` at the cap).
    """

    def __init__(self, content_encoding: str, cap: int) -> None:
        names = [n.strip().lower() for n in content_encoding.split(",")]
        names = [n for n in names if n and n != "identity"]
        for name in names:
            if name not in SUPPORTED:
                raise ScanError(ErrorKind.DECODING, f"unsupported content-encoding {name[:40]!r}")
        if len(names) > MAX_LAYERS:
            raise ScanError(ErrorKind.DECODING, f"more than {MAX_LAYERS} content-encoding layers")
        # The last encoding applied is listed last, so it is undone first.
        self._layers = [_ZlibLayer(n) for n in reversed(names)]
        self.cap = cap
        self.produced = 0

    def feed(self, chunk: bytes) -> bytes:
        data = chunk
        for layer in self._layers:
            data = layer.decode(data, self.cap - self.produced)
        return self._count(data)

    def finish(self) -> bytes:
        out = bytearray()
        for index, layer in enumerate(self._layers):
            data = layer.flush(self.cap - self.produced - len(out))
            for later in self._layers[index + 1 :]:
                data = later.decode(data, self.cap - self.produced - len(out))
            out += data
        return self._count(bytes(out))

    def _count(self, data: bytes) -> bytes:
        self.produced += len(data)
        if self.produced > self.cap:
            raise ScanError(ErrorKind.TOO_LARGE, f"decompressed body exceeds {self.cap} bytes")
        return data
