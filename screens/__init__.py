"""One Textual screen per wizard step (see :mod:`screens.steps` for the order and the texts)."""

from __future__ import annotations

from textual.screen import Screen

from screens.welcome import WelcomeScreen

SCREENS: dict[str, type[Screen[None]]] = {
    "welcome": WelcomeScreen,
}

__all__ = ["SCREENS"]
