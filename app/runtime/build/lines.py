"""Split a byte stream into text lines with a hard cap on how much of one line is kept."""

from dataclasses import dataclass, field


@dataclass
class LineSplitter:
    """Feed chunks, get complete lines; memory stays bounded by ``max_line_bytes``.

    Bytes past the cap are counted, not kept, and the line ends with a marker saying how
    many were dropped. ANSI escape codes pass through untouched; invalid UTF-8 becomes U+FFFD.
    """

    max_line_bytes: int
    _buffer: bytearray = field(default_factory=bytearray)
    _dropped: int = 0

    def feed(self, chunk: bytes) -> list[str]:
        lines: list[str] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._keep(chunk[start:])
                return lines
            self._keep(chunk[start:end])
            lines.append(self._emit())
            start = end + 1

    def flush(self) -> list[str]:
        """The last line when the stream ended without a newline."""
        if self._buffer or self._dropped:
            return [self._emit()]
        return []

    def _keep(self, piece: bytes) -> None:
        room = self.max_line_bytes - len(self._buffer)
        if len(piece) <= room:
            self._buffer += piece
        else:
            self._buffer += piece[: max(room, 0)]
            self._dropped += len(piece) - max(room, 0)

    def _emit(self) -> str:
        raw = bytes(self._buffer)
        if raw.endswith(b"\r") and not self._dropped:
            raw = raw[:-1]  # CRLF line endings from Windows-minded tools
        text = raw.decode("utf-8", errors="replace")
        if self._dropped:
            text += f" [line truncated: {self._dropped} bytes omitted]"
        self._buffer.clear()
        self._dropped = 0
        return text
