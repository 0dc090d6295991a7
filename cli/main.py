"""The ``ocp-airgap`` command: the wizard (no subcommand) and the headless subcommands scripts rely on.

Subcommands live in ``cli/commands/<name>.py``; each module defines ``register(subparsers)``, which adds its parser
and sets ``func`` (``args -> exit code``). They are discovered here, so adding a command never edits this file.
Headless commands must not import Textual: only the wizard path does.

Exit codes are stable (see :mod:`engine.errors`): 0 success, 1 failure, 2 bad input, 3 refused/needs
confirmation, 4 not ready, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from cli import helptext
from engine import __version__
from tui import i18n
from tui.i18n import _


def build_parser() -> argparse.ArgumentParser:
    """The parser, its texts in the language chosen by :func:`tui.i18n.setup` (call it first)."""
    helptext.install()
    parser = helptext.Parser(
        prog="ocp-airgap",
        description=_(
            "Update a disconnected (air-gapped) OpenShift 4 cluster step by step, as the documented "
            "procedures prescribe. Without a subcommand, opens the keyboard-driven wizard on the current "
            "kubeconfig."
        ),
        epilog=_(
            "Exit codes: 0 success, 1 failure, 2 bad input, 3 refused (needs --yes or a guard failed), "
            "4 not ready, 130 interrupted."
        ),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"ocp-airgap {__version__}",
        help=_("show program's version number and exit"),
    )
    parser.add_argument("--plan", help=_("plan file to open in the wizard (YAML)"))
    parser.add_argument(
        "--ascii", action="store_true", help=_("plain ASCII drawing and no colour, for serial consoles")
    )
    parser.add_argument(
        "--lang",
        metavar="L",
        help=_(
            "language of the wizard and of the commands' messages: en or ja (default: from LANGUAGE, LC_ALL, "
            "LC_MESSAGES or LANG). The engine's own messages (the steps' progress, the journal, the change "
            "record) and --json output stay English."
        ),
    )
    parser.set_defaults(func=None)
    sub = parser.add_subparsers(title=_("commands"), metavar="COMMAND")
    import cli.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cli.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    i18n.setup(helptext.peek_language(words))  # before the parser: its help is in the chosen language
    parser = build_parser()
    args = parser.parse_args(words)
    i18n.setup(getattr(args, "lang", None))
    if args.func is None:
        from cli.commands._common import run_wizard

        return run_wizard(args)
    code: int = args.func(args)
    return code


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # '... | head' closed our output: end quietly, as other command-line tools do
        from cli.commands._common import silence_stdout

        silence_stdout()
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    entry()
