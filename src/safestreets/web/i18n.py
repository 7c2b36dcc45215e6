"""The strings of the web pages, Spanish first, and locale-aware formatting.

A plain dictionary for now; Babel message catalogs replace it in a later issue. Every string a
page shows lives here, so that switch touches one file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel.dates import format_date
from babel.numbers import format_decimal

__all__ = ["DEFAULT_LANG", "LANGS", "STRINGS", "Translator", "negotiate"]

LANGS = ("es", "en")
DEFAULT_LANG = "es"

STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"es": "SafeStreets", "en": "SafeStreets"},
    "tagline": {
        "es": "Sistema de información de seguridad ciudadana para Centroamérica",
        "en": "Citizen-security information system for Central America",
    },
    "skip_to_content": {"es": "Saltar al contenido", "en": "Skip to content"},
    "nav_label": {"es": "Navegación principal", "en": "Main navigation"},
    "nav_home": {"es": "Inicio", "en": "Home"},
    "nav_indicators": {"es": "Indicadores", "en": "Indicators"},
    "nav_map": {"es": "Mapa", "en": "Map"},
    "nav_alerts": {"es": "Alertas", "en": "Alerts"},
    "nav_api": {"es": "API", "en": "API"},
    "coming_soon": {"es": "próximamente", "en": "coming soon"},
    "other_language": {"es": "English", "en": "Español"},
    "other_language_label": {"es": "Read this page in English", "en": "Ver esta página en español"},
    "title_home": {"es": "Datos cargados", "en": "Loaded data"},
    "intro": {
        "es": "Resumen de lo que contiene la base de datos: registros por país, por sección de "
        "la ICCS y por fuente, el periodo cubierto y los últimos lotes de carga.",
        "en": "What the database holds: records by country, by ICCS section and by source, "
        "the period covered and the latest load batches.",
    },
    "key_figures": {"es": "Cifras clave", "en": "Key figures"},
    "incidents": {"es": "Incidentes", "en": "Incidents"},
    "batches": {"es": "Lotes de carga", "en": "Load batches"},
    "count_rows": {"es": "Filas de estadísticas agregadas", "en": "Aggregated statistics rows"},
    "population_rows": {"es": "Filas de población", "en": "Population rows"},
    "period": {"es": "Periodo (fechas en UTC)", "en": "Period (dates in UTC)"},
    "period_from_to": {"es": "del {start} al {end}", "en": "from {start} to {end}"},
    "period_unknown": {"es": "sin fechas", "en": "no dates"},
    "empty_title": {"es": "Aún no hay datos", "en": "No data yet"},
    "empty_body": {
        "es": "La base de datos no contiene incidentes todavía. Para empezar, ejecute",
        "en": "The database holds no incidents yet. To start, run",
    },
    "empty_or": {"es": "o", "en": "or"},
    "by_country": {"es": "Registros por país", "en": "Records by country"},
    "by_section": {"es": "Registros por sección de la ICCS", "en": "Records by ICCS section"},
    "by_source": {"es": "Registros por fuente", "en": "Records by source"},
    "latest_batches": {"es": "Últimos lotes de carga", "en": "Latest load batches"},
    "col_country": {"es": "País", "en": "Country"},
    "col_code": {"es": "Código", "en": "Code"},
    "col_section": {"es": "Sección", "en": "Section"},
    "col_source": {"es": "Fuente", "en": "Source"},
    "col_kind": {"es": "Tipo", "en": "Kind"},
    "col_records": {"es": "Registros", "en": "Records"},
    "col_share": {"es": "%", "en": "%"},
    "col_batch": {"es": "Lote", "en": "Batch"},
    "col_file": {"es": "Archivo", "en": "File"},
    "col_read": {"es": "Leídas", "en": "Read"},
    "col_loaded": {"es": "Cargadas", "en": "Loaded"},
    "col_rejected": {"es": "Rechazadas", "en": "Rejected"},
    "col_duplicate": {"es": "Duplicadas", "en": "Duplicates"},
    "col_finished": {"es": "Terminado (UTC)", "en": "Finished (UTC)"},
    "col_data": {"es": "Datos", "en": "Data"},
    "total": {"es": "Total", "en": "Total"},
    "unmapped": {"es": "Sin código ICCS", "en": "No ICCS code"},
    "unknown_section": {"es": "Sección desconocida", "en": "Unknown section"},
    "synthetic": {"es": "SINTÉTICO", "en": "SYNTHETIC"},
    "synthetic_note": {
        "es": "Las fuentes marcadas SINTÉTICO son datos de demostración generados, "
        "no hechos reales.",
        "en": "Sources marked SYNTHETIC are generated demonstration data, not real events.",
    },
    "real": {"es": "real", "en": "real"},
    "not_finished": {"es": "en curso o interrumpido", "en": "running or interrupted"},
    "kind_incidents": {"es": "incidentes", "en": "incidents"},
    "kind_counts": {"es": "conteos", "en": "counts"},
    "kind_population": {"es": "población", "en": "population"},
    "error_title": {"es": "No se puede mostrar la página", "en": "The page cannot be shown"},
    "not_found_title": {"es": "Página no encontrada", "en": "Page not found"},
    "back_home": {"es": "Volver al inicio", "en": "Back to the home page"},
    "hint": {"es": "Sugerencia", "en": "Hint"},
    "footer": {
        "es": "Clasificación: ICCS v1.0 (UNODC). Datos de demostración claramente marcados.",
        "en": "Classification: ICCS v1.0 (UNODC). Demonstration data clearly marked.",
    },
}


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """The page language: ``?lang=`` first, then the Accept-Language header, else Spanish.

    Only the primary subtag counts (``en-US`` is English); ``q=0`` excludes a language.
    Among equal weights the header's order decides.
    """
    if query_lang:
        lang = query_lang.strip().lower()[:2]
        if lang in LANGS:
            return lang
    if accept_language:
        best: tuple[float, int, str] | None = None
        for pos, part in enumerate(accept_language.split(",")):
            tag, _, params = part.strip().partition(";")
            lang = tag.strip().lower().split("-")[0]
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
    """``t("key")`` plus number and date formatting for one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG

    def __call__(self, key: str, **values: object) -> str:
        entry = STRINGS.get(key)
        text = entry[self.lang] if entry else key
        return text.format(**values) if values else text

    def label(self, key: str, fallback: str) -> str:
        """The string for ``key``, or ``fallback`` verbatim when there is none."""
        entry = STRINGS.get(key)
        return entry[self.lang] if entry else fallback

    def number(self, n: int | float) -> str:
        """1234567 as ``1.234.567`` (es) or ``1,234,567`` (en), per CLDR."""
        return format_decimal(n, locale=self.lang)

    def percent(self, part: int, whole: int) -> str:
        if not whole:
            return "–"
        return format_decimal(round(100 * part / whole, 1), format="#,##0.0", locale=self.lang)

    def day(self, value: date | datetime | None) -> str:
        if value is None:
            return "–"
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, format="long", locale=self.lang)

    def timestamp(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M")
