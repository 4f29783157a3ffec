"""Large digits for the heart rate, readable across a room: a 3 x 5 pixel font drawn with block
characters, each pixel two cells wide (a cell is about twice as tall as wide), 5 rows high."""

from __future__ import annotations

from rich.text import Text

ROWS = 5
_FONT = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "-": ("...", "...", "###", "...", "..."),
    " ": ("...", "...", "...", "...", "..."),
}


def big_lines(text: str) -> list[str]:
    """`text` (digits, '-' and spaces) as ROWS lines of block characters."""
    glyphs = [_FONT[c] for c in text if c in _FONT]
    return [
        " ".join(g[row].replace("#", "██").replace(".", "  ") for g in glyphs)
        for row in range(ROWS)
    ]


def big_text(text: str, style: str) -> Text:
    return Text("\n".join(big_lines(text)), style=style, no_wrap=True)
