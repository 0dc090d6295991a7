"""Modal screens: confirm a change (showing exactly what changes), an error (cause and fix, the full log one
key away), help for the current step, the full log."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Log, Static

from tui.i18n import _
from tui.widgets.model import LogEntry
from tui.widgets.step_log import PREFIX, wrap_lines

MODAL_CSS = """
.modal-box {
    width: 100%;
    max-width: 100;
    height: auto;
    max-height: 100%;
    border: thick $primary;
    background: $surface;
    padding: 0 1;
}
.modal-title { text-style: bold; height: 1; }
.modal-keys { color: $text-muted; height: auto; }
.modal-question { height: auto; }
.modal-body { height: auto; max-height: 16; }
"""


class ConfirmModal(ModalScreen[bool]):
    """Shows what will change; ``y`` applies, ``n``/``Esc`` cancels. Nothing changes without it. ``details``
    (e.g. the raw ConfigMap of a signature) is one key away (``d``) instead of filling the preview."""

    DEFAULT_CSS = (
        MODAL_CSS
        + """
    ConfirmModal { align: center middle; }
    ConfirmModal .modal-box { border: thick $warning; }
    """
    )
    BINDINGS = [
        Binding("y", "answer(True)", "Yes, apply"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
        Binding("d", "details", "Details", show=False),
    ]

    def __init__(
        self,
        title: str,
        preview: str,
        question: str = "",
        *,
        yes_label: str = "",
        no_label: str = "",
        details: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.preview = preview
        self.question = question or _("Apply these changes?")
        self.yes_label = yes_label or _("apply")
        self.no_label = no_label or _("cancel")
        self.details = details
        self.showing_details = False

    def keys_text(self) -> str:
        keys = _("y {yes}   n / Esc {no}   arrows scroll").format(yes=self.yes_label, no=self.no_label)
        if self.details:
            keys += "   " + (_("d back") if self.showing_details else _("d details"))
        return keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(escape(self.title_text), classes="modal-title")
            with VerticalScroll(classes="modal-body", id="preview"):
                yield Static(escape(self.preview), id="preview-text")
            yield Static(f"[b]{escape(self.question)}[/b]", classes="modal-question")
            yield Static(escape(self.keys_text()), classes="modal-keys", id="modal-keys")

    def on_mount(self) -> None:
        self.query_one("#preview").focus()

    def action_details(self) -> None:
        if not self.details:
            return
        self.showing_details = not self.showing_details
        text = self.details if self.showing_details else self.preview
        self.query_one("#preview-text", Static).update(escape(text))
        self.query_one("#modal-keys", Static).update(escape(self.keys_text()))
        self.query_one("#preview", VerticalScroll).scroll_home(animate=False)

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ErrorModal(ModalScreen[str]):
    """Cause and fix in plain words; ``l`` opens the full log; ``Enter``/``Esc`` closes."""

    DEFAULT_CSS = (
        MODAL_CSS
        + """
    ErrorModal { align: center middle; }
    ErrorModal .modal-box { border: thick $error; }
    ErrorModal #fix { color: $success; }
    """
    )
    BINDINGS = [
        Binding("escape", "close('close')", "Close"),
        Binding("enter", "close('close')", "Close", show=False),
        Binding("l", "close('log')", "Full log"),
    ]

    def __init__(self, title: str, message: str, fix: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.fix = fix

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Static(escape(self.title_text), classes="modal-title")
            with VerticalScroll(classes="modal-body"):
                yield Static(escape(self.message), id="cause")
                if self.fix:
                    yield Static(_("Fix: ") + escape(self.fix), id="fix")
            yield Static(escape(_("l full log   Enter/Esc close")), classes="modal-keys")

    def action_close(self, what: str) -> None:
        self.dismiss(what)


class HelpModal(ModalScreen[None]):
    DEFAULT_CSS = (
        MODAL_CSS
        + """
    HelpModal { align: center middle; }
    """
    )
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, text: str, keys: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        key_lines = "\n".join(f"  [b]{escape(k):<8}[/b] {escape(d)}" for k, d in self.keys)
        with Vertical(classes="modal-box"):
            yield Static(_("Help: ") + escape(self.title_text), classes="modal-title")
            with VerticalScroll(classes="modal-body", id="help-body"):
                yield Static(escape(self.text))
                yield Static("\n" + _("Keys:") + "\n" + key_lines)
            yield Static(escape(_("Esc close   arrows scroll")), classes="modal-keys")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class LogModal(ModalScreen[None]):
    """The full log of a step (everything kept, including debug lines)."""

    DEFAULT_CSS = """
    LogModal { align: center middle; }
    LogModal Vertical { border: thick $primary; background: $surface; height: 100%; }
    LogModal Log { height: 1fr; }
    LogModal .modal-keys { color: $text-muted; height: 1; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]

    def __init__(self, title: str, entries: Iterable[LogEntry]) -> None:
        super().__init__()
        self.title_text = title
        self.entries = list(entries)

    def compose(self) -> ComposeResult:
        with Vertical():
            log = Log(auto_scroll=True)
            log.border_title = self.title_text
            yield log
            yield Static(escape(_("Esc close   arrows/PgUp/PgDn scroll")), classes="modal-keys")

    def on_mount(self) -> None:
        log = self.query_one(Log)
        self.call_after_refresh(self._fill, log)

    def _fill(self, log: Log) -> None:
        width = log.scrollable_content_region.width - 1
        log.write_lines(wrap_lines((PREFIX.get(e.level, "") + e.text for e in self.entries), width))
        if not self.entries:
            log.write_line(_("(nothing logged yet)"))
        log.focus()

    def action_close(self) -> None:
        self.dismiss(None)
