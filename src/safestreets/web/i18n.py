"""The strings of the web pages (gettext catalogs, Spanish first) and locale-aware formatting.

The catalogs are ``locale/<lang>/LC_MESSAGES/messages.po``. Message ids are symbolic keys
(``nav_home``), so a page names what it says and each language's catalog says it; a text takes
``str.format`` fields (``t("period_from_to", start=..., end=...)``) and plurals use
``msgid_plural`` (:meth:`Translator.plural`). The ``.po`` files are compiled in memory with
Babel the first time a language is used, so a clean checkout needs no build step and there is
no ``.mo`` file to forget. ``tests/web/test_i18n.py`` checks that both catalogs hold the same
keys, that every text is translated, and that every key a template or page uses exists.

Numbers and dates follow CLDR through Babel: ``1.234.567`` and ``5 de enero de 2024`` in
Spanish, ``1,234,567`` and ``January 5, 2024`` in English.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "LOCALE_DIR",
    "STRINGS",
    "Translator",
    "catalog_keys",
    "negotiate",
]

LANGS = ("es", "en")
DEFAULT_LANG = "es"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

#: Strings kept in code instead of the catalogs, ``key -> {"es": ..., "en": ...}``: the
#: fallback for a key the catalogs lack (the catalogs win when both have it). New strings
#: belong in the ``.po`` files; this stays so that code adding strings here keeps working.
STRINGS: dict[str, dict[str, str]] = {}


@lru_cache(maxsize=len(LANGS))
def _translations(lang: str) -> Translations:
    """The catalog of ``lang``, compiled from its ``.po`` file in memory."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang, domain="messages")
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain="messages")


@lru_cache(maxsize=len(LANGS))
def catalog_keys(lang: str) -> frozenset[str]:
    """The message ids of ``lang``'s catalog (singular ids; plural ids included)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    keys: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            keys.update(str(i) for i in message.id)
        else:
            keys.add(str(message.id))
    return frozenset(keys)


def _primary(tag: str) -> str:
    return tag.strip().lower().replace("_", "-").split("-")[0]


def negotiate(
    query_lang: str | None, accept_language: str | None, preferred: str | None = None
) -> str:
    """The page language: ``?lang=``, then the user's setting, then Accept-Language, else
    Spanish.

    Only the primary subtag counts (``en-US`` is English); ``q=0`` excludes a language.
    Among equal weights the header's order decides.
    """
    for choice in (query_lang, preferred):
        if choice:
            lang = _primary(choice)
            if lang in LANGS:
                return lang
    if accept_language:
        best: tuple[float, int, str] | None = None
        for pos, part in enumerate(accept_language.split(",")):
            tag, _, params = part.strip().partition(";")
            lang = _primary(tag)
            if lang not in LANGS:
                continue
            q = 1.0
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key.strip() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            if q <= 0:
                continue
            if best is None or (-q, pos) < (-best[0], best[1]):
                best = (q, pos, lang)
        if best is not None:
            return best[2]
    return DEFAULT_LANG


class Translator:
    """``t("key")`` plus number and date formatting for one language.

    In the templates it is both ``t`` and ``_``.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG
        self._catalog = _translations(self.lang)

    def _text(self, key: str) -> str | None:
        text = self._catalog.gettext(key)
        if text != key:
            return text
        entry = STRINGS.get(key)
        return entry.get(self.lang) if entry else None

    def __call__(self, key: str, **values: object) -> str:
        text = self._text(key)
        if text is None:
            text = key
        return text.format(**values) if values else text

    gettext = __call__

    def has(self, key: str) -> bool:
        """Whether ``key`` has a text in this language."""
        return self._text(key) is not None

    def label(self, key: str, fallback: str) -> str:
        """The string for ``key``, or ``fallback`` verbatim when there is none."""
        text = self._text(key)
        return fallback if text is None else text

    def plural(self, key: str, n: int, **values: object) -> str:
        """The singular or plural text of ``key`` for ``n`` (``{n}`` is filled in, formatted
        for the locale)."""
        text = self._catalog.ngettext(key, key + "_plural", n)
        return text.format(n=self.number(n), **values)

    def number(self, n: int | float) -> str:
        """1234567 as ``1.234.567`` (es) or ``1,234,567`` (en), per CLDR."""
        return format_decimal(n, locale=self.lang)

    def decimal(self, value: float | None, digits: int = 1) -> str:
        """A number with exactly ``digits`` decimals (``–`` for none or not finite)."""
        if value is None or value != value or value in (float("inf"), float("-inf")):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return format_decimal(round(value, digits), format=pattern, locale=self.lang)

    def percent(self, part: int, whole: int) -> str:
        """``part`` as a percentage of ``whole`` with one decimal (``–`` when whole is 0)."""
        if not whole:
            return "–"
        return format_decimal(round(100 * part / whole, 1), format="#,##0.0", locale=self.lang)

    def day(self, value: date | datetime | None) -> str:
        """A date in words: ``5 de enero de 2024`` / ``January 5, 2024``."""
        if value is None:
            return "–"
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, format="long", locale=self.lang)

    def short_day(self, value: date | datetime | None) -> str:
        """A short date: ``5/1/24`` (es) / ``1/5/24`` (en)."""
        if value is None:
            return "–"
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, format="medium", locale=self.lang)

    def month(self, value: date | None) -> str:
        """A month and year: ``enero de 2024`` / ``January 2024``."""
        if value is None:
            return "–"
        return format_skeleton("yMMMM", value, locale=self.lang)

    def timestamp(self, value: datetime | None) -> str:
        """A moment in UTC, as the locale writes date and time (seconds included)."""
        if value is None:
            return "–"
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return format_datetime(value.astimezone(UTC), format="medium", tzinfo=UTC, locale=self.lang)
