"""Messages in Spanish and English: one gettext catalogue, the language of the current request or
command, and the choice of a language from Accept-Language.

English is the source language (the msgids; its own catalogue only words the code lists' terms,
whose msgids are codes); `geo/core/locale/<lang>/LC_MESSAGES/veta.po` holds each language's messages,
compiled in memory by Babel on first use, so a clean checkout needs no build step.
"""

from __future__ import annotations

import io
import os
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import NullTranslations

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "veta"
# The cookie the web map's language switch sets; a page's `lang=` parameter sets it too.
COOKIE = "veta_lang"

_language: ContextVar[str] = ContextVar("veta_language", default=DEFAULT_LANGUAGE)


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (without one: the msgids themselves)."""
    # Babel is imported on the first message looked up, not with this module: a command that
    # says nothing translated (a successful import into a pipe) never pays for it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    path = catalogue_path(language)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalogue = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def current_language() -> str:
    return _language.get()


def use_language(language: str):
    """Make `language` the current one (this request, this command); returns a token for reset."""
    return _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def reset_language(token) -> None:
    _language.reset(token)


def gettext(message: str) -> str:
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A message in a context: a code list's term (`pgettext("verdict", "free")`)."""
    return str(translations(_language.get()).pgettext(context, message))


_ = gettext


def supported(tag: str | None) -> str | None:
    """The supported language of a tag ('es-ES', 'ES', 'en_GB.UTF-8'), or None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].split(".")[0].strip().lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The supported language the client prefers most (RFC 9110 weights), or None."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if weight > 0:
            ranked.append((-weight, position, tag.strip()))
    return next((lang for *_, tag in sorted(ranked) if (lang := supported(tag))), None)


def language_of_environment() -> str:
    """The CLI's language: VETA_LANG, else the POSIX locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG)."""
    for name in ("VETA_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if language := supported(value.split(":")[0]):
            return language
    return DEFAULT_LANGUAGE


def messages(language: str, context: str) -> dict[str, str]:
    """The messages of one context (the web map's: "map"), msgid → text in `language`."""
    from babel.messages.pofile import read_po

    with catalogue_path("es").open("rb") as po:
        ids = [m.id for m in read_po(po) if m.context == context and isinstance(m.id, str)]
    table = translations(language)
    return {message: str(table.pgettext(context, message)) for message in ids}
