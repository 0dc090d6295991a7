"""The key line at the bottom of every screen: the keys of the current screen that fit in the width, the
screen's own keys first; when some do not fit (or are listed only in help) it ends with '? more keys', so every
key is on this line or one '?' away."""

from __future__ import annotations

from rich.cells import cell_len
from rich.markup import escape
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from tui.i18n import _

SEP = "  "


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        overflow: hidden;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.render_keys)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached:
            self.render_keys()

    def on_resize(self) -> None:
        self.render_keys()

    def entries(self) -> tuple[list[tuple[str, str]], bool]:
        """(key, description) of the bindings shown here, the screen's own first; and whether any key with a
        description is left for the help ('?')."""
        screen = self.screen
        own = {b.key for b in getattr(type(screen), "BINDINGS", []) if isinstance(b, Binding)}
        first: list[tuple[str, str]] = []
        quit_: list[tuple[str, str]] = []
        rest: list[tuple[str, str]] = []
        hidden = False
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen or binding.action == "help":
                continue
            seen.add(binding.action)
            if not binding.show or not active.enabled:
                hidden = hidden or active.enabled
                continue
            item = (self.app.get_key_display(binding), _(binding.description))
            if binding.action == "safe_quit":
                quit_.append(item)  # how to leave is never dropped for lack of room
            else:
                (first if binding.key in own else rest).append(item)
        return first + quit_ + rest, hidden

    def render_keys(self) -> None:
        if not self.is_attached or not self.size.width:
            return
        items, hidden = self.entries()
        quit_keys = {
            self.app.get_key_display(b)
            for b in self.app.BINDINGS
            if isinstance(b, Binding) and b.action == "safe_quit"
        }
        width = self.size.width - 1
        help_full = "? " + _("Help")
        help_more = "? " + _("more keys")
        # room is kept for the quit key whatever the screen's own keys take
        reserved = sum(cell_len(f"{k} {d}") + len(SEP) for k, d in items if k in quit_keys)
        shown: list[str] = []
        used = 0
        for key, desc in items:
            part = f"{key} {desc}"
            need = cell_len(part) + len(SEP)
            must = key in quit_keys
            if used + need + cell_len(help_more) + (0 if must else reserved) > width:
                hidden = True
                continue
            if must:
                reserved = 0
            shown.append(f"[b]{escape(key)}[/b] {escape(desc)}")
            used += need
        shown.append(f"[b]?[/b] {escape(help_more[2:] if hidden else help_full[2:])}")
        self.update(" " + SEP.join(shown))
