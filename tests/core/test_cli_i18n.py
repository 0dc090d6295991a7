"""The headless commands in Japanese: the language is chosen before the parser is built (``--lang``, else
``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG``), so every command's help is translated with option names,
command names and ``oc`` commands intact; help fits 80 columns counted in cells; prompts and the error/fix framing
are translated and keep their exit codes; ``--json`` output is the same in every language."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.helptext import cells, peek_language, wrap
from engine.errors import EXIT_REFUSED, Cancelled
from tui import i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def run(*argv: str, lang_env: str | None = None, stdin: str = "", cwd: Path | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARS}
    env["COLUMNS"] = "80"
    env["PYTHONPATH"] = str(ROOT)
    if lang_env is not None:
        env["LANG"] = lang_env
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        cwd=cwd or ROOT,
        timeout=60,
    )


def _wide(text: str) -> bool:
    return cells(text) > len(text)


def test_lang_option_translates_the_top_level_help() -> None:
    out = run("--lang", "ja", "--help", lang_env="C")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("使用法: ocp-airgap [-h] [--version] [--plan PLAN] [--ascii] [--lang L]")
    assert "非接続環境 (エアギャップ) の OpenShift 4 クラスター" in text
    assert "オプション:" in text and "コマンド:" in text
    assert "このヘルプを表示して終了する" in text
    assert "終了コード: 0 成功、1 失敗、2 入力不正、3 拒否" in text
    # option and command names stay as they are
    for name in ("--lang L", "--ascii", "mirror-config", "pull-secret", "upgrade", "signature"):
        assert name in text
    assert "リリースイメージの署名を検証、取得、適用する" in text
    assert "--json の出力は" in text  # --lang says what stays English


def test_lang_environment_translates_a_command_help_with_its_names_intact() -> None:
    out = run("upgrade", "start", "--help", lang_env="ja_JP.UTF-8")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("使用法: ocp-airgap upgrade start [-h] --plan P [--accept-not-recommended]")
    assert "変更される内容を表示し、何も変更しない" in text  # --dry-run
    assert "確認せずに変更を実行する" in text  # --yes
    assert "推奨されていない条件付き更新のリスクを受け入れる" in text
    assert "'oc adm upgrade --allow-explicit-upgrade --to-image'" in text
    assert "<mirror.registry>/<mirror.repository>@<release.digest>" in text
    for option in ("--plan P", "--accept-not-recommended", "--dry-run", "--yes, -y", "--fail-after SECONDS"):
        assert option in text
    lines = text.splitlines()
    assert all(cells(line) <= 80 for line in lines), text
    # the usage's continuation lines line up under the command, counted in cells
    first, second = lines[0], lines[1]
    assert cells(first[: first.index("[-h]")]) == len(second) - len(second.lstrip())


@pytest.mark.parametrize(
    ("argv", "lang_env"),
    [(("--help",), "C"), (("--lang", "en", "upgrade", "start", "--help"), "ja_JP.UTF-8")],
    ids=["LANG=C", "--lang-en-over-ja-environment"],
)
def test_english_stays_english(argv: tuple[str, ...], lang_env: str) -> None:
    out = run(*argv, lang_env=lang_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: ocp-airgap")
    assert "show this help message and exit" in out.stdout
    assert not _wide(out.stdout)


def _parsers(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}".strip())


@pytest.fixture
def japanese() -> Iterator[None]:
    i18n.setup("ja")
    try:
        yield
    finally:
        i18n.setup("en")


def test_every_command_help_is_japanese_and_fits_80_columns(
    japanese: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import build_parser

    monkeypatch.setenv("COLUMNS", "80")
    seen = 0
    for path, parser in _parsers(build_parser()):
        if parser.description:
            assert _wide(parser.description), f"{path}: description not translated"
        for action in parser._actions:
            if action.help and action.help != argparse.SUPPRESS:
                assert _wide(action.help), (
                    f"{path} {action.option_strings}: help not translated: {action.help}"
                )
        for sub in parser._actions:
            if isinstance(sub, argparse._SubParsersAction):
                for choice in sub._choices_actions:
                    assert choice.help and _wide(choice.help), f"{path} {choice.dest}: help not translated"
        text = parser.format_help()
        too_wide = [line for line in text.splitlines() if _wide(line) and cells(line) > 80]
        assert not too_wide, f"ocp-airgap {path} --help:\n" + "\n".join(too_wide)
        seen += 1
    assert seen > 40  # every command and every action


def test_wrap_counts_cells_and_keeps_names_and_punctuation() -> None:
    text = "クラスターバージョンが Completed になったら、ワーカープールのロールアウト完了を待たずに終了する (既定 120)"
    lines = wrap(text, 30)
    assert all(cells(line) <= 30 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert "Completed" in " ".join(lines).split()  # a name is never split
    assert not any(line[0] in "、。)" for line in lines)  # no line starts with closing punctuation
    assert not any(line.endswith("(") for line in lines)
    assert wrap("あいうえおかきくけこさ", 10) == ["あいうえお", "かきくけ", "こさ"]  # no lone last character
    assert wrap("plain English words stay whole", 12) == ["plain", "English", "words stay", "whole"]


def test_lang_is_peeked_before_parsing() -> None:
    assert peek_language(["--lang", "ja", "upgrade", "start", "--help"]) == "ja"
    assert peek_language(["--lang=en", "status"]) == "en"
    assert peek_language(["status", "--plan", "p.yaml"]) is None
    assert peek_language(["--", "--lang", "ja"]) is None


def test_argparse_errors_are_framed_in_japanese_with_exit_2() -> None:
    out = run("--lang", "ja", "upgrade", "start", lang_env="C")
    assert out.returncode == 2
    assert "ocp-airgap upgrade start: エラー: 次の引数が必要です: --plan" in out.stderr
    bad = run("--lang", "ja", "upgrade", "watch", "--plan", "p.yaml", "--timeout", "x", lang_env="C")
    assert bad.returncode == 2
    assert "'x' は数値ではありません (例: 30 や 2.5)" in bad.stderr


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan whose journal lives in the folder (no cluster needed) and a pull secret to merge into."""
    tmp_path = tmp_path_factory.mktemp("plan")
    out = run("plan", "new", "p.yaml", "--registry", "mirror.example:5000", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    plan = tmp_path / "p.yaml"
    text = plan.read_text()
    text = text.replace("state_dir: ''", f"state_dir: {tmp_path / 'state'}")
    lines = ["  username: admin" if line.startswith("  username:") else line for line in text.splitlines()]
    plan.write_text("\n".join(lines) + "\n")
    (tmp_path / "ps.json").write_text('{"auths": {"quay.io": {"auth": "dXNlcjpwdw=="}}}')
    return tmp_path


MERGE = ("credentials", "merge", "--plan", "p.yaml", "--pull-secret", "ps.json", "--auth-file", "out.json")


def test_a_refused_change_is_framed_in_japanese_and_keeps_exit_3(plan_dir: Path) -> None:
    ja = run("--lang", "ja", *MERGE, "--password-stdin", stdin="pw-for-test\n", cwd=plan_dir)
    assert ja.returncode == EXIT_REFUSED == 3, ja.stderr
    assert (
        "エラー: この認証情報を書き込みますか? — 確認が必要ですが、確認を求める端末がありません" in ja.stderr
    )
    assert (
        "対処: 上の変更内容を確認し (または --dry-run で実行し)、--yes を付けて再実行してください。"
        in ja.stderr
    )
    assert not (plan_dir / "out.json").exists()
    dry = run("--lang", "ja", *MERGE, "--password-stdin", "--dry-run", stdin="pw-for-test\n", cwd=plan_dir)
    assert dry.returncode == 0, dry.stderr
    assert "ドライラン: 何も変更していません。" in dry.stdout
    assert "スキップ: ドライラン: 何も書き込んでいません" in dry.stdout  # the step's outcome, translated


def _without_times(stdout: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in stdout.splitlines()]
    for doc in docs:
        doc.pop("ts", None)
    return docs


@pytest.mark.parametrize(
    ("argv", "stdin", "code"),
    [
        (("status", "--plan", "p.yaml", "--offline", "--json"), "", 0),
        ((*MERGE, "--password-stdin", "--json"), "pw-for-test\n", 3),
        (("pull-secret", "check", "missing.json", "--json"), "", 2),
    ],
    ids=["status", "refused-change", "bad-input"],
)
def test_json_output_is_the_same_in_every_language(
    plan_dir: Path, argv: tuple[str, ...], stdin: str, code: int
) -> None:
    en = run(*argv, lang_env="C", stdin=stdin, cwd=plan_dir)
    ja = run(*argv, lang_env="ja_JP.UTF-8", stdin=stdin, cwd=plan_dir)
    assert en.returncode == ja.returncode == code, (en.stderr, ja.stderr)
    assert en.stdout.strip()
    assert _without_times(ja.stdout) == _without_times(en.stdout)
    assert not _wide(ja.stdout)
    if code:
        assert "エラー: " in ja.stderr  # what a person reads is still in their language


def test_status_reads_in_japanese(plan_dir: Path) -> None:
    out = run("status", "--plan", "p.yaml", "--offline", lang_env="ja_JP.UTF-8", cwd=plan_dir)
    assert out.returncode == 0, out.stderr
    assert "ジャーナル: " in out.stdout
    assert "次: " in out.stdout and "ocp-airgap preflight --plan P" in out.stdout
    assert "成功: 0 個の手順が完了" in out.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer", ["y", "yes", "YES", "はい"])
def test_prompt_says_which_key_and_accepts_y_and_yes(
    japanese: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], answer: str
) -> None:
    from cli.commands._common import confirm

    monkeypatch.setattr(sys, "stdin", _Terminal(answer + "\n"))
    args = argparse.Namespace(json=False, yes=False, dry_run=False)
    assert confirm(args, "Pause {n} MachineHealthCheck(s)?", n=2) is True
    assert (
        "2 個のマシンヘルスチェックを一時停止しますか? [y/N] (y または yes で実行) "
        in capsys.readouterr().out
    )


def test_prompt_refuses_anything_else(japanese: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.commands._common import confirm

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    with pytest.raises(Cancelled, match="何も変更していません"):
        confirm(argparse.Namespace(json=False, yes=False, dry_run=False), "Start the update?")


def test_progress_words_follow_the_language(japanese: None) -> None:
    from datetime import UTC, datetime

    from cli.commands._common import format_progress
    from engine.events import Progress

    event = Progress(
        seq=1, ts=datetime.now(UTC), step="mirror", done=3, total=5, unit="images", eta_seconds=7, retries=2
    )
    assert format_progress(event) == "3 / 5 images (60%), 残り 7s, 再試行 2 回"
    i18n.setup("en")
    assert format_progress(event) == "3 of 5 images (60%), ETA 7s, 2 retries"


def test_with_json_the_prompt_is_translated_and_the_refusal_stays_english(
    japanese: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.commands._common import confirm

    monkeypatch.setattr(sys, "stdin", _Terminal("n\n"))
    with pytest.raises(Cancelled, match="^Nothing was changed: the change was not confirmed.$"):
        confirm(argparse.Namespace(json=True, yes=False, dry_run=False), "Start the update?")
    captured = capsys.readouterr()
    assert captured.out == ""  # the machine output holds no prompt
    assert "更新を開始しますか? [y/N] (y または yes で実行)" in captured.err
