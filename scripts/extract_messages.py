"""Rebuild the message template (tui/locale/ocp-airgap.pot) from the sources: xgettext over the wizard's and the
commands' code (``_()``, ``N_()``, ``tr()``, ``ngettext()`` and the descriptions of key bindings), plus the step
titles, summaries and help texts of :mod:`screens.steps` and the docstrings that describe a command
(``description=_(__doc__)``). Then merge it into each catalogue with ``msgmerge`` and compile with
``scripts/compile_messages.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POT = ROOT / "tui" / "locale" / "ocp-airgap.pot"


def po_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def main(pot: Path = POT) -> int:
    sources = sorted(
        str(p.relative_to(ROOT)) for d in ("screens", "tui", "cli") for p in (ROOT / d).rglob("*.py")
    )
    subprocess.run(
        [
            "xgettext",
            "--language=Python",
            "--from-code=UTF-8",
            "--keyword=_",
            "--keyword=N_",
            "--keyword=tr",
            "--keyword=ngettext:1,2",
            "--keyword=Binding:3",
            "--no-location",
            "--sort-output",
            "--package-name=ocp-airgap",
            "-o",
            str(pot),
            *sources,
        ],
        cwd=ROOT,
        check=True,
    )
    import importlib

    from screens.steps import STEPS

    texts = [text for step in STEPS for text in (step.title, step.about, step.help)]
    for path in sorted((ROOT / "cli" / "commands").glob("*.py")):  # commands described by their docstring
        if "_(__doc__)" in path.read_text(encoding="utf-8"):
            doc = importlib.import_module(f"cli.commands.{path.stem}").__doc__
            if doc:
                texts.append(doc)
    known = pot.read_text(encoding="utf-8")
    extra = []
    for text in texts:
        entry = f"msgid {po_string(text)}\n"
        if entry not in known and entry not in extra:
            extra.append(entry)
    with pot.open("a", encoding="utf-8") as f:
        for entry in extra:
            f.write(f'\n{entry}msgstr ""\n')
    print(f"{pot}: {known.count('msgid ') - 1 + len(extra)} messages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else POT))
