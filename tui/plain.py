"""Plain terminals: no colour (``NO_COLOR``, ``--ascii``) and 7-bit output (``--ascii``).

What the terminal receives is what Textual's driver writes for each rendered line after the App's line filters
(:meth:`textual.app.App.get_line_filters`). Textual's own ``NO_COLOR`` handling turns colours into greys
(``Monochrome``) unless the theme is an ANSI one, and nothing in Textual limits the characters to ASCII. So the
wizard adds two filters of its own: :class:`NoColour` drops every foreground and background colour from each
segment (bold, reverse and underline stay: they carry the selection), and :class:`AsciiOnly` replaces every
character above 0x7F (box drawing, blocks, ellipsis, marks, wide characters) with an ASCII one. Scrollbars are
drawn without their partial-block glyphs (:class:`AsciiScrollBarRender`).
"""

from __future__ import annotations

import unicodedata
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter
from textual.scrollbar import ScrollBarRender

ASCII_MAP: dict[str, str] = {
    "…": "...",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "→": "->",
    "←": "<-",
    "↑": "^",
    "↓": "v",
    "▶": ">",
    "▸": ">",
    "►": ">",
    "◀": "<",
    "✔": "+",
    "✓": "+",
    "✖": "x",
    "✗": "x",
    "⟳": "~",
    "⊘": "#",
    "↷": "-",
    "·": ".",
    "•": "*",
    "█": "#",
    "░": "-",
    "▒": "-",
    "▓": "#",
    "\u00a0": " ",
}


def to_ascii(text: str) -> str:
    """``text`` with every non-ASCII character replaced, keeping the cell width (a double-width character
    becomes two ASCII characters, so the layout does not move)."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        width = cell_len(ch)
        rep = ASCII_MAP.get(ch)
        if rep is None:
            name = unicodedata.name(ch, "")
            if name.startswith("BOX DRAWINGS"):
                rep = "|" if "VERTICAL" in name and "HORIZONTAL" not in name else "-"
                if "DOWN AND" in name or "UP AND" in name or "VERTICAL AND" in name or "ARC" in name:
                    rep = "+"
            elif (
                name.startswith(("UPPER", "LOWER", "LEFT", "RIGHT", "FULL"))
                and "BLOCK" in name
                or name.startswith("QUADRANT")
            ):
                rep = "#"
            else:
                rep = "?"
        if len(rep) != width:
            rep = (rep + " " * width)[:width] if width else ""
        out.append(rep)
    return "".join(out)


class NoColour(LineFilter):
    """Remove every colour (foreground and background) from the segments; other attributes stay."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            Segment(text, None if style is None else style.without_color, control)
            for text, style, control in segments
        ]


class AsciiOnly(LineFilter):
    """Replace every non-ASCII character with an ASCII one of the same width."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(to_ascii(text), style, control) for text, style, control in segments]


class AsciiScrollBarRender(ScrollBarRender):
    """Scrollbars without partial-block glyphs: the thumb is reverse video, the track blank."""

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8
