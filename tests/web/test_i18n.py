"""The Babel catalogs of the pages: complete in both languages, used consistently, and the
language chosen from ``?lang=``, the user's setting and Accept-Language, in that order."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from safestreets.schema import HANDLING_CODES
from safestreets.stats.catalogue import BREAKDOWNS
from safestreets.web import i18n
from safestreets.web.admin import AGENCY_ROLES
from safestreets.web.i18n import LOCALE_DIR, STRINGS, Translator, catalog_keys, negotiate
from safestreets.web.mapview import KINDS

WEB = Path(i18n.__file__).parent
# The public map's own strings live in STRINGS (its module registers them); not ours to check.
OURS = [
    *sorted((WEB / "templates").glob("*.html")),
    *sorted(WEB.glob("*.py")),
]
OURS = [p for p in OURS if not p.name.startswith(("public_",))]
KEY_RE = re.compile(r"""\b(?:t|_|t\.label|t\.plural|t\.has)\(\s*["']([a-z0-9_]+)["']""")


def _catalog(lang: str) -> dict[str, object]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in read_po(f) if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_the_same_keys_all_translated() -> None:
    es, en = _catalog("es"), _catalog("en")
    assert set(es) == set(en)
    assert len(es) > 250
    for key in es:
        for lang, cat in (("es", es), ("en", en)):
            text = cat[key]
            texts = text if isinstance(text, tuple) else (text,)
            assert all(t.strip() for t in texts), f"{key} is empty in {lang}"
            # A symbolic key left as its own text ("nav_home") is a missing translation.
            assert all(t != key or "_" not in key for t in texts), f"{key} untranslated ({lang})"


def test_placeholders_agree_between_languages() -> None:
    es, en = _catalog("es"), _catalog("en")
    for key in es:
        e, n = es[key], en[key]
        e_all = " ".join(e) if isinstance(e, tuple) else str(e)
        n_all = " ".join(n) if isinstance(n, tuple) else str(n)
        assert _fields(e_all) == _fields(n_all), key


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in OURS:
        keys |= set(KEY_RE.findall(path.read_text(encoding="utf-8")))
    # Keys the templates build from a prefix and a value.
    keys |= {f"role_{r}" for r in AGENCY_ROLES} | {"role_regional"}
    keys |= {f"handling_{c}" for c in HANDLING_CODES}
    keys |= {f"layer_{k}" for k in KINDS} | {f"cells_caption_{k}" for k in KINDS}
    keys |= {f"basis_{b}" for b in ("own", "shared", "all")}
    keys |= {f"by_{b}" for b in BREAKDOWNS}
    keys |= {f"nav_{n}" for n in ("overview", "indicators", "hotspots", "upload", "audit")}
    keys |= {"nav_users", "forbidden_title", "unauthorized_title", "not_found_title"}
    keys = {k for k in keys if not k.endswith("_")}  # prefixes: t("role_" ~ r)
    keys -= {"key"}  # t("key") in docstrings
    return keys


def test_every_key_the_pages_use_is_in_the_catalogs() -> None:
    missing = sorted(_used_keys() - catalog_keys("es"))
    assert missing == []
    assert catalog_keys("es") == catalog_keys("en")


def test_translator_texts_fields_and_plurals() -> None:
    es, en = Translator("es"), Translator("en")
    assert es("nav_overview") == "Resumen" and en("nav_overview") == "Overview"
    assert es("period_from_to", start="a", end="b") == "del a al b"
    assert es.plural("n_events", 1) == "1 caso" and es.plural("n_events", 1234) == "1.234 casos"
    assert en.plural("n_events", 1) == "1 case" and en.plural("n_events", 2) == "2 cases"
    assert es("no-such-key") == "no-such-key"
    assert es.label("no-such-key", "fallback") == "fallback"
    assert Translator("fr").lang == "es"


def test_strings_in_code_still_work_as_a_fallback() -> None:
    STRINGS["test_only_key"] = {"es": "hola {x}", "en": "hello {x}"}
    try:
        assert Translator("es")("test_only_key", x=1) == "hola 1"
        assert Translator("en")("test_only_key", x=1) == "hello 1"
        assert Translator("en").has("test_only_key")
    finally:
        del STRINGS["test_only_key"]


def test_numbers_and_dates_follow_the_locale() -> None:
    es, en = Translator("es"), Translator("en")
    assert es.number(1234567) == "1.234.567" and en.number(1234567) == "1,234,567"
    assert es.decimal(22.857) == "22,9" and en.decimal(22.857) == "22.9"
    assert es.decimal(None) == "–" and es.decimal(float("nan")) == "–"
    assert es.day(date(2024, 1, 5)) == "5 de enero de 2024"
    assert en.day(date(2024, 1, 5)) == "January 5, 2024"
    assert es.month(date(2024, 1, 5)) == "enero de 2024" and en.month(date(2024, 1, 5)) == (
        "January 2024"
    )
    moment = datetime(2024, 2, 1, 18, 30, tzinfo=UTC)
    assert es.timestamp(moment) == "1 feb 2024, 18:30:00"
    assert en.timestamp(moment) == "Feb 1, 2024, 6:30:00\u202fPM"


@pytest.mark.parametrize(
    ("query", "preferred", "header", "expected"),
    [
        (None, None, None, "es"),
        ("en", None, None, "en"),
        ("EN", "es", "es", "en"),
        ("fr", None, None, "es"),
        (None, "en", "es", "en"),  # the user's setting beats the browser
        ("es", "en", "en", "es"),  # the switch beats the setting
        (None, "xx", "en", "en"),
        (None, None, "fr-FR, en;q=0.5", "en"),
        (None, None, "es;q=0.2, en;q=0.8", "en"),
        (None, None, "en;q=0, es", "es"),
        (None, None, "de", "es"),
        (None, None, "es-GT,es;q=0.9,en;q=0.8", "es"),
        (None, None, "en_US", "en"),
    ],
)
def test_negotiate(
    query: str | None, preferred: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(query, header, preferred) == expected


def test_catalogs_need_no_build_step() -> None:
    # Only the .po sources ship; they are compiled in memory on first use.
    assert not list(LOCALE_DIR.rglob("*.mo"))
    assert {p.parent.parent.name for p in LOCALE_DIR.rglob("messages.po")} == {"es", "en"}
