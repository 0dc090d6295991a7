"""The headless commands' help in the user's language: the language is chosen before the parser is built (so
every ``help=`` and ``description=`` is translated), argparse's own words (``usage:``, ``options``, its error
framing) go through the same catalogue, and help text is wrapped by terminal cells, not characters: a Japanese
character takes two columns, and Japanese has no spaces to break at.

Only the standard library here (``unicodedata``): the headless commands load neither Textual nor Rich.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from tui import i18n
from tui.i18n import N_

ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
)
"""argparse's own messages (Python 3.11+ wording); one that is not listed here stays English."""


def peek_language(argv: Sequence[str]) -> str | None:
    """The value of ``--lang`` in ``argv`` (``--lang ja`` or ``--lang=ja``), read before the parser exists."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def _argparse_gettext(message: str) -> str:
    return i18n._(message)


def install() -> None:
    """Route argparse's own messages through the catalogue (English stays argparse's wording)."""
    argparse._ = _argparse_gettext  # type: ignore[attr-defined]


def char_cells(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """Columns ``text`` takes on a terminal (double-width characters count two)."""
    return sum(char_cells(ch) for ch in text)


_NO_LINE_START = set(
    "、。，．・：；？！ー）」』】〕〉》…ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ),.:;!?]"
)
_NO_LINE_END = set("（「『【〔〈《([")
_TOKEN = re.compile(r"\s+|[^\s\u1100-\uffff]+|.", re.S)


def _tokens(text: str) -> list[str]:
    """Units a line may break between: spaces, runs of narrow characters, single wide characters (with the
    punctuation that must not start a line glued to the one before, and opening brackets to the one after)."""
    out: list[str] = []
    glue_next = False
    for tok in _TOKEN.findall(text):
        if tok.isspace():
            out.append(" ")
            glue_next = False
            continue
        if out and (glue_next or tok[0] in _NO_LINE_START) and not out[-1].isspace():
            out[-1] += tok
        else:
            out.append(tok)
        glue_next = tok[-1] in _NO_LINE_END
    return out


def wrap(text: str, width: int) -> list[str]:
    """Greedy wrapping by cells; breaks at spaces and between wide characters (never before 、。 and the like).
    A run of narrow characters (an option, a command, a file name) is never split, and a paragraph does not end
    on a line holding a single Japanese character (the one before it moves down with it)."""
    text = re.sub(r"\s+", " ", text).strip()
    width = max(width, 10)
    lines: list[list[tuple[str, str]]] = []  # each line: (separator, token) pairs
    line: list[tuple[str, str]] = []
    space = False

    def length(parts: list[tuple[str, str]]) -> int:
        return sum(cells(sep) + cells(tok) for sep, tok in parts) - (cells(parts[0][0]) if parts else 0)

    for tok in _tokens(text):
        if tok == " ":
            space = bool(line)
            continue
        sep = " " if space else ""
        if line and length(line) + cells(sep) + cells(tok) > width:
            lines.append(line)
            line = [("", tok)]
        else:
            line.append((sep, tok))
        space = False
    if line:
        lines.append(line)
    if len(lines) > 1 and length(lines[-1]) <= 2 and len(lines[-2]) > 2 and lines[-1][0][0] == "":
        moved = lines[-2].pop()
        if moved[0] == "" and _wide(moved[1]):
            lines[-1].insert(0, ("", moved[1]))
        else:
            lines[-2].append(moved)
    return ["".join(sep + tok for sep, tok in parts).strip() for parts in lines]


def _wide(text: str) -> bool:
    return any(char_cells(ch) == 2 for ch in text)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, wrapping text that holds double-width characters by cells."""

    def _format_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None) -> str:
        # argparse aligns the usage's continuation lines on len(prefix): lay it out with an ASCII stand-in of
        # the same width in cells, then put the translated prefix back
        if prefix is None:
            prefix = i18n._("usage: ")
        stand_in = "u" * cells(prefix)
        text = super()._format_usage(usage, actions, groups, stand_in)
        return prefix + text[len(stand_in) :] if text.startswith(stand_in) else text

    def _split_lines(self, text: str, width: int) -> list[str]:
        if not _wide(text):
            return super()._split_lines(text, width)
        return wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """A description or epilog: English as argparse does it (one paragraph); translated text keeps its
        paragraphs (blank lines) and its ``- `` items (hanging indent)."""
        if not _wide(text):
            return super()._fill_text(text, width, indent)
        out: list[str] = []
        for paragraph in re.split(r"\n\s*\n", text.strip()):
            if out:
                out.append("")
            for item in re.split(r"\n(?=- )", paragraph):
                hang = "  " if item.startswith("- ") else ""
                lines = wrap(item, width - len(indent) - len(hang))
                out += [indent + (hang if i else "") + line for i, line in enumerate(lines)]
        return "\n".join(out)


class RawDescriptionHelpFormatter(HelpFormatter):
    """The description and epilog as written (an English layout of columns and lists); translated text is
    filled as :class:`HelpFormatter` does (its paragraphs and items kept)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if not _wide(text):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """The parser of ``ocp-airgap`` and of each of its commands (subparsers inherit the class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


__all__ = [
    "ARGPARSE_MESSAGES",
    "HelpFormatter",
    "Parser",
    "RawDescriptionHelpFormatter",
    "cells",
    "install",
    "peek_language",
    "wrap",
]
