"""One Textual screen per wizard step (see :mod:`screens.steps` for the order and the texts).

Screen modules are imported when first shown, so the wizard's first screen does not wait for all of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from textual.screen import Screen

SCREEN_CLASSES: dict[str, tuple[str, str]] = {
    "welcome": ("screens.welcome", "WelcomeScreen"),
    "preflight": ("screens.preflight", "PreflightScreen"),
    "credentials": ("screens.credentials", "CredentialsScreen"),
    "release": ("screens.release", "ReleaseScreen"),
    "mirror": ("screens.mirror", "MirrorScreen"),
    "mirror-config": ("screens.mirror_config", "MirrorConfigScreen"),
    "signature": ("screens.signature", "SignatureScreen"),
    "catalog": ("screens.catalog", "CatalogScreen"),
    "mhc-pause": ("screens.mhc", "MhcPauseScreen"),
    "upgrade": ("screens.update", "UpdateScreen"),
    "mhc-resume": ("screens.mhc", "MhcResumeScreen"),
}


def screen_class(step: str) -> type[Screen[Any]]:
    module, name = SCREEN_CLASSES[step]
    cls: type[Screen[Any]] = getattr(importlib.import_module(module), name)
    return cls


__all__ = ["SCREEN_CLASSES", "screen_class"]
