"""The strings of the public map page (``/mapa``), Spanish first.

Kept in the ``key -> {"es", "en"}`` form of :data:`safestreets.web.i18n.STRINGS` and merged
into it by :func:`register` (``safestreets.web.public_pages`` calls it on import), so that the
page's templates use the same translator ``t`` as every other page.
"""

from __future__ import annotations

from typing import Final

from safestreets.web.i18n import STRINGS

__all__ = ["PUBLIC_MAP_STRINGS", "register"]

PUBLIC_MAP_STRINGS: Final[dict[str, dict[str, str]]] = {
    "pm_title": {"es": "Mapa público de seguridad", "en": "Public safety map"},
    "pm_intro": {
        "es": "Dónde y cuántos incidentes registraron las instituciones, por municipio y en "
        "celdas de {size} m, para decidir sobre paradas de bus, mercados y calles. Solo cifras "
        "agregadas y protegidas; ningún registro individual.",
        "en": "Where and how many incidents the agencies recorded, by municipality and in "
        "{size} m cells, to help decide about bus stops, markets and streets. Only protected "
        "aggregate figures; no individual record.",
    },
    "pm_rules_title": {
        "es": "Qué muestra este mapa y qué oculta",
        "en": "What this map shows and what it hides",
    },
    "pm_rule_public": {
        "es": "Solo incidentes que la institución dueña de los datos marcó como públicos; los "
        "demás nunca se usan aquí.",
        "en": "Only incidents their owner agency marked as public; no other record is ever "
        "used here.",
    },
    "pm_rule_delay": {
        "es": "Cada año calendario se publica cuando terminó hace al menos {days} días. Hoy "
        "se pueden publicar los hechos ocurridos hasta el {through}.",
        "en": "Each calendar year is published once it ended at least {days} days ago. Today, "
        "events up to {through} may be published.",
    },
    "pm_rule_k": {
        "es": "Se ocultan los conteos de 1 a {k1} incidentes y, cuando hace falta, otro conteo "
        "de la misma fila, para que no puedan deducirse del total. Una celda o un municipio "
        "con menos de {k} incidentes en total no muestra ninguna cifra.",
        "en": "Counts from 1 to {k1} incidents are hidden, and where needed one more count of "
        "the same row, so that they cannot be worked out from the total. A cell or a "
        "municipality with fewer than {k} incidents in all shows no figure.",
    },
    "pm_rule_sensitive": {
        "es": "La violencia sexual, la violencia doméstica y la trata de personas se muestran "
        "solo por departamento, nunca por municipio ni en el mapa.",
        "en": "Sexual violence, domestic violence and trafficking in persons are shown by "
        "department only, never by municipality or on the map.",
    },
    "pm_rule_cells": {
        "es": "Las celdas del mapa miden {size} m de lado; no se publica ninguna ubicación más "
        "precisa que una celda.",
        "en": "Map cells are {size} m wide; no location more precise than a cell is published.",
    },
    "pm_controls": {"es": "Elegir los datos", "en": "Choose the data"},
    "pm_country": {"es": "País", "en": "Country"},
    "pm_year": {"es": "Año", "en": "Year"},
    "pm_category": {"es": "Categoría", "en": "Category"},
    "pm_show": {"es": "Mostrar", "en": "Show"},
    "pm_all": {
        "es": "Todos (salvo las categorías sensibles)",
        "en": "All (but the sensitive categories)",
    },
    "pm_group_map": {"es": "En el mapa y por municipio", "en": "On the map and by municipality"},
    "pm_group_dept": {
        "es": "Solo por departamento (categorías sensibles)",
        "en": "By department only (sensitive categories)",
    },
    "pm_map_title": {"es": "{category}, {year}: el mapa", "en": "{category}, {year}: the map"},
    "pm_map_label": {
        "es": "Mapa de celdas de {category}; la tabla de celdas muestra lo mismo",
        "en": "Map of {category} cells; the table of cells shows the same",
    },
    "pm_map_keys": {
        "es": "Con el teclado: flechas para mover el mapa, + y − para acercar o alejar; la "
        "tecla Tab recorre las celdas y Intro abre su ficha.",
        "en": "With the keyboard: arrows move the map, + and − zoom in and out; Tab goes "
        "through the cells and Enter opens their details.",
    },
    "pm_no_js": {
        "es": "El mapa necesita JavaScript. La tabla de celdas muestra los mismos datos.",
        "en": "The map needs JavaScript. The table of cells shows the same data.",
    },
    "pm_legend": {"es": "Leyenda", "en": "Legend"},
    "pm_legend_band": {"es": "{label} incidentes", "en": "{label} incidents"},
    "pm_legend_cells": {"es": "celdas: {n}", "en": "cells: {n}"},
    "pm_legend_hidden": {
        "es": "oculto: de 1 a {k1}, u oculto para proteger otro número",
        "en": "hidden: 1 to {k1}, or hidden to protect another number",
    },
    "pm_legend_outline": {"es": "Límite del país", "en": "Country border"},
    "pm_legend_seat": {
        "es": "Departamento o provincia (punto representativo)",
        "en": "Department or province (representative point)",
    },
    "pm_cells_caption": {
        "es": "Celdas del mapa, de más a menos incidentes (el mapa en forma de tabla)",
        "en": "Map cells, from most to fewest incidents (the map as a table)",
    },
    "pm_no_cells": {
        "es": "Ninguna celda llega a {k} incidentes con estos datos.",
        "en": "No cell reaches {k} incidents with these data.",
    },
    "pm_col_rank": {"es": "N.º", "en": "No."},
    "pm_col_cell": {"es": "Celda", "en": "Cell"},
    "pm_col_municipality": {"es": "Municipio", "en": "Municipality"},
    "pm_col_department": {"es": "Departamento o provincia", "en": "Department or province"},
    "pm_col_incidents": {"es": "Incidentes", "en": "Incidents"},
    "pm_col_class": {"es": "Clase", "en": "Class"},
    "pm_col_centre": {
        "es": "Centro de la celda (lat., lon.)",
        "en": "Centre of the cell (lat., lon.)",
    },
    "pm_col_total": {"es": "Total", "en": "Total"},
    "pm_col_rate": {"es": "Tasa por 100 000 hab.", "en": "Rate per 100,000"},
    "pm_muni_title": {"es": "Por municipio, {year}", "en": "By municipality, {year}"},
    "pm_muni_caption": {
        "es": "Incidentes públicos por municipio y categoría, {year}",
        "en": "Public incidents by municipality and category, {year}",
    },
    "pm_zero_rows": {
        "es": "No se listan {n} municipios sin ningún incidente público registrado en {year}.",
        "en": "{n} municipalities with no public incident recorded in {year} are not listed.",
    },
    "pm_dept_title": {
        "es": "{category} por departamento, {year}",
        "en": "{category} by department, {year}",
    },
    "pm_dept_caption": {
        "es": "Incidentes públicos de categorías sensibles por departamento o provincia, {year}",
        "en": "Public incidents of sensitive categories by department or province, {year}",
    },
    "pm_sensitive_note": {
        "es": "{category} es una categoría sensible: se publica solo por departamento o "
        "provincia y nunca aparece en el mapa.",
        "en": "{category} is a sensitive category: it is published by department or province "
        "only and never appears on the map.",
    },
    "pm_hidden": {"es": "oculto", "en": "hidden"},
    "pm_hidden_note": {
        "es": "× = oculto: de 1 a {k1} incidentes, u oculto para que otro número oculto no "
        "pueda deducirse del total.",
        "en": "× = hidden: 1 to {k1} incidents, or hidden so that another hidden number cannot "
        "be worked out from the total.",
    },
    "pm_period": {"es": "Periodo: del {start} al {end}.", "en": "Period: {start} to {end}."},
    "pm_no_data": {
        "es": "No hay incidentes públicos de {country} en los años ya publicados.",
        "en": "There are no public incidents of {country} in the years published so far.",
    },
    "pm_shown": {
        "es": "Celdas en el mapa: {cells}. Incidentes en las celdas con conteo publicado: "
        "{incidents}.",
        "en": "Cells on the map: {cells}. Incidents in the cells whose count is published: "
        "{incidents}.",
    },
    "pm_api": {
        "es": "Los mismos datos, para reutilizarlos:",
        "en": "The same data, for reuse:",
    },
    "pm_sources": {
        "es": "Contornos de países: Natural Earth (dominio público). Puntos de departamentos: "
        "GeoNames (CC BY 4.0). Sin mapa de fondo en línea.",
        "en": "Country outlines: Natural Earth (public domain). Department points: GeoNames "
        "(CC BY 4.0). No online background map.",
    },
    "pm_sources_tiles": {
        "es": "Contornos de países: Natural Earth (dominio público). Puntos de departamentos: "
        "GeoNames (CC BY 4.0). Mapa de fondo: {attribution}.",
        "en": "Country outlines: Natural Earth (public domain). Department points: GeoNames "
        "(CC BY 4.0). Background map: {attribution}.",
    },
    "pm_cell_incidents": {"es": "{n} incidentes", "en": "{n} incidents"},
    "pm_class": {"es": "clase {label}", "en": "class {label}"},
    "pm_map_link": {"es": "Ver el mapa público", "en": "See the public map"},
}


def register() -> None:
    """Merge the page's strings into the shared table (idempotent)."""
    for key, texts in PUBLIC_MAP_STRINGS.items():
        STRINGS.setdefault(key, texts)
