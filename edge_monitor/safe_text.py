"""Text from strangers (a record's path, its lead names, a bundle folder) on one terminal line."""

from __future__ import annotations


def shown(text: object) -> str:
    """A stranger's text for a rich markup string: one line, and "[" read as a bracket, not as
    a style or a link (a folder named "a[/]b" stopped rich with a MarkupError)."""
    from rich.markup import escape

    return escape(one_line(str(text)))


def one_line(text: str) -> str:
    """`text` with line breaks and other control characters written as escapes: a message
    quoting a stranger's path or field ("a\\nb.onnx") stays one line a script can read."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
