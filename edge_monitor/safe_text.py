"""Text from strangers (a record's path, its lead names, a bundle folder) on one terminal line."""

from __future__ import annotations


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes: a message
    quoting a stranger's path or field ("a\\nb.onnx") stays one line a script can read."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
