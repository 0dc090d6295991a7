"""The wizard's (and the CLI's) message catalogue: Python's standard :mod:`gettext`, domain ``ocp-airgap``.

Sources are ``tui/locale/<lang>/LC_MESSAGES/ocp-airgap.po``; the compiled ``.mo`` next to each is shipped as
package data (``scripts/compile_messages.py`` rebuilds it; a test checks it matches its source). The language
comes from ``--lang`` when given, else from the environment the way gettext reads it (``LANGUAGE``,
``LC_ALL``, ``LC_MESSAGES``, ``LANG``); English is the fallback. ``oc`` commands, resource names and error codes
are never translated.

No Textual here: the headless commands use it too.
"""

from __future__ import annotations

import gettext as _gettext
import os
from pathlib import Path

DOMAIN = "ocp-airgap"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "ja")
"""Languages with a catalogue (English is the source language)."""

_translation: _gettext.NullTranslations = _gettext.NullTranslations()
_language = "en"


def _from_environment() -> str:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            for part in value.split(":"):
                code = part.split(".")[0].split("@")[0].split("_")[0].lower()
                if code in ("c", "posix"):
                    return "en"
                if code:
                    return code
    return "en"


def setup(lang: str | None = None) -> str:
    """Choose the language (``--lang``, else the environment) and load its catalogue; returns the language in
    use ('en' when there is no catalogue for the one asked)."""
    global _translation, _language
    code = (lang or _from_environment()).split(".")[0].split("_")[0].lower()
    if code not in LANGUAGES:
        code = "en"
    if code == "en":
        _translation = _gettext.NullTranslations()
    else:
        _translation = _gettext.translation(
            DOMAIN, localedir=str(LOCALE_DIR), languages=[code], fallback=True
        )
    _language = code
    return code


def language() -> str:
    return _language


def _(message: str) -> str:
    """The message in the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Singular or plural form for ``n``, in the current language."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown (``_()``)."""
    return message


__all__ = ["DOMAIN", "LANGUAGES", "LOCALE_DIR", "N_", "_", "language", "ngettext", "setup"]
