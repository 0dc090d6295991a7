"""``ocp-airgap pull-secret check FILE``: is this pull secret / auth file usable?

Exit 0 when it is valid (the registries and user names are listed, never a password); exit 2 when it is not,
naming each problem with its line and column — e.g. the example of the documentation, which is malformed JSON.
``FILE`` may be ``-`` to check text pasted on standard input.
"""

from __future__ import annotations

import argparse
import sys

from cli import helptext
from cli.commands._common import add_output_args, emitter, handle_errors, human
from engine.errors import EXIT_OK, EXIT_USAGE, InputError
from engine.events import StepStatus
from tui.i18n import _


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pull-secret",
        help=_("check a pull secret or auth file"),
        description=_(__doc__),
        formatter_class=helptext.RawDescriptionHelpFormatter,
    )
    psub = p.add_subparsers(title=_("actions"), metavar="ACTION", required=True)
    check = psub.add_parser(
        "check",
        help=_("validate a pull secret file (exit 0 valid, 2 invalid with line/column)"),
        description=_(
            "Validate a pull secret / registry auth file: JSON syntax (with line and column), the "
            "'auths' object, every 'auth' being base64 of 'user:password', the registry names."
        ),
    )
    check.add_argument("file", metavar="FILE", help=_("the pull secret JSON file, or - for standard input"))
    add_output_args(check)
    check.set_defaults(func=handle_errors(_check))


def _check(args: argparse.Namespace) -> int:
    from engine.pullsecret import check

    emit = emitter(args, "pull-secret")
    tr = human(args)
    if args.file == "-":
        text = sys.stdin.read()
        source = "<stdin>"
    else:
        source = args.file
        try:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise InputError(
                tr("{path} does not exist").format(path=args.file),
                fix=tr("Give the path of the pull secret file."),
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                tr("cannot read {path}: {reason}").format(path=args.file, reason=exc),
                fix=tr("Give a readable JSON text file."),
            ) from None
    emit.command(["jq", ".", args.file], note="the same syntax check by hand")
    secret, problems = check(text, source)
    if problems:
        for problem in problems:
            err = problem.as_error(source)
            emit.error(err.message)
            if err.fix:
                emit.info(f"fix: {err.fix}")
        emit.result(
            StepStatus.FAILED,
            f"{source} is not a valid pull secret ({len(problems)} problem{'s' if len(problems) > 1 else ''})",
            {
                "valid": False,
                "problems": [
                    {"message": p.message, "line": p.line, "column": p.column, "fix": p.fix} for p in problems
                ],
            },
        )
        return EXIT_USAGE
    assert secret is not None
    for entry in secret.summary():
        emit.info(f"  {entry}")
    emit.result(
        StepStatus.SUCCEEDED,
        f"{source} is a valid pull secret with {len(secret.auths)} registries",
        {"valid": True, "registries": secret.registries},
    )
    return EXIT_OK
