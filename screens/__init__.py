"""One Textual screen per wizard step (see :mod:`screens.steps` for the order and the texts)."""

from __future__ import annotations

from textual.screen import Screen

from screens.credentials import CredentialsScreen
from screens.mhc import MhcPauseScreen, MhcResumeScreen
from screens.pending import pending
from screens.signature import SignatureScreen
from screens.welcome import WelcomeScreen

SCREENS: dict[str, type[Screen[None]]] = {
    "welcome": WelcomeScreen,
    "preflight": pending("preflight", "preflight", "run_preflight"),
    "credentials": CredentialsScreen,
    "release": pending("release", "release"),
    "mirror": pending("mirror", "mirror"),
    "mirror-config": pending("mirror-config", "mirrorconfig"),
    "signature": SignatureScreen,
    "catalog": pending("catalog", "catalog"),
    "mhc-pause": MhcPauseScreen,
    "upgrade": pending("upgrade", "upgrade"),
    "mhc-resume": MhcResumeScreen,
}

__all__ = ["SCREENS"]
