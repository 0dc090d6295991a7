"""Progress for long work: a bar per unit (bytes with rate and ETA while mirroring; % and operators while
updating)."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static

from engine.events import Progress
from engine.util import format_bytes, format_duration

BAR_WIDTH = 12


def bar(fraction: float | None, width: int = BAR_WIDTH, *, ascii_only: bool = False) -> str:
    full, empty = ("#", "-") if ascii_only else ("█", "░")
    if fraction is None:
        return "[" + "?" * width + "]" if ascii_only else "░" * width
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    text = full * filled + empty * (width - filled)
    return f"[{text}]" if ascii_only else text


def describe(event: Progress) -> str:
    """'1.2 GiB of 3.4 GiB 35% 12.0 MiB/s ETA 3m05s 2 retries' / '17 of 33 operators 51%'."""

    def amount(v: float) -> str:
        return format_bytes(v) if event.unit == "bytes" else f"{v:g}"

    parts = [amount(event.done)]
    if event.total:
        parts.append(f"of {amount(event.total)}")
    if event.unit not in ("bytes", "%"):
        parts.append(event.unit)
    if event.unit == "%":
        parts = [f"{event.done:.0f}%"]
    elif event.fraction is not None:
        parts.append(f"{event.fraction * 100:.0f}%")
    if event.rate:
        parts.append(f"{format_bytes(event.rate)}/s" if event.unit == "bytes" else f"{event.rate:.1f}/s")
    if event.eta_seconds is not None:
        parts.append(f"ETA {format_duration(event.eta_seconds)}")
    if event.retries:
        parts.append(f"{event.retries} retr{'y' if event.retries == 1 else 'ies'}")
    return " ".join(parts)


class ProgressPanel(Static):
    DEFAULT_CSS = """
    ProgressPanel {
        height: auto;
        max-height: 3;
        display: none;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ProgressPanel.-active { display: block; }
    """

    def __init__(self, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ascii_only = ascii_only

    def show(self, events: list[Progress]) -> None:
        if not events:
            self.remove_class("-active")
            self.update("")
            return
        self.add_class("-active")
        lines = []
        for event in events[-3:]:
            frac = event.fraction if event.unit != "%" else event.done / 100.0
            label = escape(event.label[:18]) if event.label else event.unit
            lines.append(
                f"{bar(frac, ascii_only=self.ascii_only)} {escape(describe(event))}  [$text-muted]{label}[/]"
            )
        self.update("\n".join(lines))
