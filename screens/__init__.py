"""One Textual screen per wizard step (see :mod:`screens.steps` for the order and the texts)."""

from __future__ import annotations

from textual.screen import Screen

from screens.credentials import CredentialsScreen
from screens.mhc import MhcPauseScreen, MhcResumeScreen
from screens.mirror import MirrorScreen
from screens.pending import pending
from screens.preflight import PreflightScreen
from screens.release import ReleaseScreen
from screens.signature import SignatureScreen
from screens.update import UpdateScreen
from screens.welcome import WelcomeScreen

SCREENS: dict[str, type[Screen[None]]] = {
    "welcome": WelcomeScreen,
    "preflight": PreflightScreen,
    "credentials": CredentialsScreen,
    "release": ReleaseScreen,
    "mirror": MirrorScreen,
    "mirror-config": pending("mirror-config", "mirrorconfig"),
    "signature": SignatureScreen,
    "catalog": pending("catalog", "catalog"),
    "mhc-pause": MhcPauseScreen,
    "upgrade": UpdateScreen,
    "mhc-resume": MhcResumeScreen,
}

__all__ = ["SCREENS"]
