"""Which engine operations this build has. A screen whose operation is missing says so and does nothing: it
never pretends to do what the engine does not do."""

from __future__ import annotations

import importlib
from types import ModuleType


def engine_module(name: str, *functions: str) -> ModuleType | None:
    """``engine.<name>`` if it exists and defines every named function, else None."""
    try:
        module = importlib.import_module(f"engine.{name}")
    except ImportError:
        return None
    if all(callable(getattr(module, f, None)) for f in functions):
        return module
    return None


def unavailable_text(name: str, *functions: str) -> str:
    wanted = ", ".join(f"engine.{name}.{f}" for f in functions) or f"engine.{name}"
    return (
        f"Not available in this build: the engine operation ({wanted}) is missing. Nothing can be run here."
    )
