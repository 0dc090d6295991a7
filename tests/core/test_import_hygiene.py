"""engine/ never imports Textual, Rich, screens, tui or cli: checked statically (every import statement) and at runtime."""

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

FORBIDDEN = ("textual", "rich", "screens", "tui", "cli")
ENGINE_DIR = Path(engine.__file__).parent


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_static_no_forbidden_imports():
    bad = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        for lineno, name in _imports(path):
            if name.split(".")[0] in FORBIDDEN:
                bad.append(f"{path.relative_to(ENGINE_DIR.parent)}:{lineno} imports {name}")
    assert not bad, "\n".join(bad)


def test_runtime_importing_every_engine_module_loads_no_ui():
    modules = ["engine"] + [m.name for m in pkgutil.walk_packages([str(ENGINE_DIR)], prefix="engine.")]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_headless_cli_does_not_load_textual():
    code = (
        "import json, sys\n"
        "from cli.main import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in ('textual', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_front_ends_do_not_import_each_other():
    """screens/ and tui/ are the wizard, cli/ the headless commands: the wizard never needs the CLI's modules
    (both call the engine's use cases), and only cli.commands.demo and cli.main open the wizard."""
    root = ENGINE_DIR.parent
    bad = []
    for pkg in ("screens", "tui"):
        for path in sorted((root / pkg).rglob("*.py")):
            for lineno, name in _imports(path):
                if name.split(".")[0] == "cli":
                    bad.append(f"{path.relative_to(root)}:{lineno} imports {name}")
    assert not bad, "\n".join(bad)


def test_screens_depend_on_the_host_protocol_not_the_app():
    root = ENGINE_DIR.parent
    bad = [
        f"{path.relative_to(root)}:{lineno} imports {name}"
        for path in sorted((root / "screens").rglob("*.py"))
        for lineno, name in _imports(path)
        if name == "tui.app" or name.startswith("tui.app.")
    ]
    assert not bad, "\n".join(bad)
