"""Strangers' text on the terminal: one line, no control characters, markup read as text."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from edge_monitor.safe_text import one_line, shown


@given(st.text())
def test_any_text_becomes_one_printable_line(text):
    line = one_line(text)
    assert line.isprintable() and len(line.splitlines()) <= 1
    assert one_line(line) == line  # printable text is left as it is
    if text.isprintable():
        assert line == text


@given(st.text(alphabet=st.sampled_from("[]/=abc \x1b\x07\n")))
def test_shown_text_prints_literally_through_rich_markup(text):
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=10_000, soft_wrap=True)
    console.print(f"[bold]{shown(text)}[/bold]", highlight=False)
    assert out.getvalue().rstrip("\n") == one_line(text)
