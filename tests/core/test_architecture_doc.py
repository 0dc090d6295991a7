"""docs/architecture.md describes the code as it is: every engine module and sub-package is listed there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_engine_module_and_subpackage_is_described() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`(engine/[a-z_]+(?:\.py|/))`", doc))
    engine = ROOT / "engine"
    present = {f"engine/{p.name}" for p in engine.glob("*.py") if p.name != "__init__.py"}
    present |= {f"engine/{p.name}/" for p in engine.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(present - listed)
    stale = sorted(listed - present)
    assert not missing, f"docs/architecture.md does not describe: {missing}"
    assert not stale, f"docs/architecture.md describes modules that do not exist: {stale}"
