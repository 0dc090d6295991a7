"""The message catalogues: every message of the wizard has a Japanese translation with the same placeholders, the
shipped .mo matches its .po, the language follows --lang / LANG / LC_MESSAGES, and Japanese screens at 80x24 show
their texts whole (nothing cut, double-width characters measured by cells)."""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tui.conftest import screen_text
from tui import i18n

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "tui" / "locale" / "ocp-airgap.pot"
JA_PO = ROOT / "tui" / "locale" / "ja" / "LC_MESSAGES" / "ocp-airgap.po"
JA_MO = JA_PO.with_suffix(".mo")


def _script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _msgids(pot_text: str) -> set[str]:
    compile_messages = _script("compile_messages")
    filled = re.sub(r'^(msgstr(\[\d\])?) ""$', r'\1 "x"', pot_text, flags=re.M)
    return {k.split("\0")[0] for k in compile_messages.parse_po(filled) if k}


@pytest.fixture
def japanese() -> Iterator[None]:
    i18n.setup("ja")
    try:
        yield
    finally:
        i18n.setup("en")


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs xgettext")
def test_template_lists_every_message_of_the_code(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.pot"
    _script("extract_messages").main(fresh)
    assert _msgids(fresh.read_text(encoding="utf-8")) == _msgids(POT.read_text(encoding="utf-8"))


def test_every_message_has_a_japanese_translation_with_the_same_placeholders() -> None:
    translated = _script("compile_messages").parse_po(JA_PO.read_text(encoding="utf-8"))
    by_id = {k.split("\0")[0]: v for k, v in translated.items() if k}
    wanted = _msgids(POT.read_text(encoding="utf-8"))
    assert wanted - set(by_id) == set()
    for msgid in wanted:
        for form in by_id[msgid].split("\0"):
            assert set(re.findall(r"\{\w*\}", form)) == set(re.findall(r"\{\w*\}", msgid)), msgid
            percent = r"%(?:\(\w+\))?[sdr]"  # argparse's own messages and help texts
            assert sorted(re.findall(percent, form)) == sorted(re.findall(percent, msgid)), msgid


def test_the_template_holds_the_headless_commands_messages() -> None:
    """The catalogue covers the CLI too: help texts, descriptions taken from a command's docstring, argparse's
    own words, prompts and labels (so the completeness test above fails when one lacks Japanese)."""
    import cli.commands.upgrade
    from cli.helptext import ARGPARSE_MESSAGES

    wanted = _msgids(POT.read_text(encoding="utf-8"))
    for msgid in (
        "start the update to the plan's release, by digest",
        cli.commands.upgrade.__doc__,
        "Start the update?",
        "{question} [y/N] ",
        "error: ",
        "fix: ",
        "{n} step(s) done",
        *ARGPARSE_MESSAGES,
    ):
        assert msgid in wanted, msgid


def test_shipped_catalogue_is_compiled_from_its_source() -> None:
    compile_messages = _script("compile_messages")
    expected = compile_messages.mo_bytes(compile_messages.parse_po(JA_PO.read_text(encoding="utf-8")))
    assert JA_MO.read_bytes() == expected


def test_language_follows_option_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    try:
        monkeypatch.setenv("LANG", "ja_JP.UTF-8")
        assert i18n.setup() == "ja" and i18n._("Preflight") == "事前チェック"
        assert i18n.ngettext("{n} warning", "{n} warnings", 2) == "{n} 件警告"
        monkeypatch.setenv("LC_MESSAGES", "C")
        assert i18n.setup() == "en" and i18n._("Preflight") == "Preflight"
        assert i18n.setup("ja") == "ja"  # --lang wins
        assert i18n.setup("fr") == "en"  # no catalogue: English
        assert i18n.ngettext("{n} warning", "{n} warnings", 1) == "{n} warning"
    finally:
        i18n.setup("en")


def test_cli_lang_option_reaches_the_catalogue() -> None:
    from cli.main import build_parser

    args = build_parser().parse_args(["--lang", "ja"])
    assert args.lang == "ja"


def _main_column(text: str) -> str:
    """The right-hand column of every line (after the step list's border), joined without spaces."""
    out = []
    for line in text.splitlines():
        _, sep, rest = line.partition("▕")
        out.append(rest if sep else line)
    return re.sub(r"\s+", "", "".join(out))


@pytest.mark.parametrize(
    "step",
    [
        "welcome",
        "preflight",
        "credentials",
        "release",
        "mirror",
        "mirror-config",
        "signature",
        "catalog",
        "mhc-pause",
        "upgrade",
        "mhc-resume",
    ],
)
async def test_japanese_screens_show_their_texts_whole_at_80x24(
    japanese: None, make_app: Callable[..., Any], step: str
) -> None:
    from rich.cells import cell_len

    from screens.steps import BY_ID

    app = make_app(start_step=step, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert all(cell_len(line) <= 80 for line in text.splitlines())
        column = _main_column(text)
        about = re.sub(r"\s+", "", i18n._(BY_ID[step].about))
        assert about in column, f"{step}: the summary is cut\n{text}"
        from rich.text import Text
        from textual.widgets import Static

        nxt = app.screen.query_one("#next", Static).content
        plain = Text.from_markup(str(nxt)).plain
        assert plain.strip().startswith("次:")
        assert re.sub(r"\s+", "", plain) in column, f"{step}: the next action is cut\n{text}"
        assert BY_ID[step].title not in text.split("\n", 1)[0] or step == "welcome"  # the title is translated


@pytest.mark.parametrize("size", [(80, 24)], ids=["80x24"])
@pytest.mark.parametrize("step", ["welcome", "preflight"])
def test_japanese_snapshot(
    japanese: None, snap_compare: Any, make_app: Callable[..., Any], step: str, size: tuple[int, int]
) -> None:
    app = make_app(start_step=step, live=False)

    async def run_before(pilot: Any) -> None:
        if step == "preflight":
            from tests.tui.test_snapshots import _preflight_results

            worker = app.run_operation(
                "preflight", "事前チェックを実行中", _preflight_results, app.screen.show_results
            )
            await worker.wait()
        for _ in range(4):
            await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=size)
