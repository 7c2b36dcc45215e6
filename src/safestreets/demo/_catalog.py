"""What kinds of incident the demo region produces, and how each one looks.

A *kind* is a modelling unit (street robbery, robbery on a bus, domestic violence...), not a
category: its labels are looked up in the reference category table for each country, so every
``local_category`` written by the generator maps back to the ``iccs_code`` written beside it.
Shares are of the non-homicide incidents; homicides are calibrated separately (see ``_plan``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import polars as pl

from safestreets.reference import geo

NORTHERN_TRIANGLE = frozenset({"GT", "SV", "HN"})


@dataclass(frozen=True)
class Kind:
    """One modelled kind of incident.

    Attributes:
        key: Internal name.
        iccs: ICCS code family: a label is used only if its code lies in it (or is the broader
            parent), which keeps e.g. Costa Rica's "Robo" (a theft, 0501) out of robberies.
        terms: Candidate local labels with relative weights; labels the table lacks for the
            country, or whose code is outside the family, are skipped. Labels with a weapon
            or place-type hint in the table are used only for matching incidents.
        share: Share among non-homicide incidents before the country ``boost``.
        settings: ``(anchor, place_type, weight)``: where it happens (see ``_world``).
        day_profile, hour_profile: Temporal profiles (see ``_time``).
        group: Agency/handling group: homicide, sexual, person, property, state.
        weapon: Weapon profile key or ``None`` (weapon not applicable: null).
        victims: Victim model key or ``None`` for victimless offences (victim_count 0).
        victims_per_incident: Probabilities of 1, 2, 3... victims.
        boost: Country multipliers of ``share`` (missing: 1).
        delay_hours: Median delay between occurrence and report.
        special: Labels used only in a situation: ``femicide``, ``massacre``, ``minor``.
        minor_age: Victims below this age get the ``minor`` label.
    """

    key: str
    iccs: str
    terms: tuple[tuple[str, float], ...]
    share: float
    settings: tuple[tuple[str, str, float], ...]
    day_profile: str
    hour_profile: str
    group: str
    weapon: str | None = None
    victims: str | None = None
    victims_per_incident: tuple[float, ...] = (1.0,)
    boost: Mapping[str, float] = field(default_factory=dict)
    delay_hours: float = 6.0
    special: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    minor_age: int = 18


# fmt: off
_HOMICIDE_SETTINGS = (
    ("gang", "street", 0.26),
    ("hotspot", "street", 0.22),
    ("city", "street", 0.15),
    ("residence", "residence", 0.11),
    ("rural", "rural", 0.14),
    ("bar", "bar", 0.07),
    ("bus", "public_transport", 0.03),
    ("market", "market", 0.02),
)
_NT_HIGH = {"GT": 2.0, "SV": 2.5, "HN": 2.5, "BZ": 0.3, "NI": 0.3, "CR": 0.5, "PA": 0.6}

HOMICIDE = Kind(
    key="homicide",
    iccs="0101",
    terms=(
        ("Homicidio", 0.55), ("Asesinato", 0.08), ("Homicidio agravado", 0.04),
        ("Sicariato", 0.05), ("Homicidio por encargo", 0.02),
        ("Homicidio con arma de fuego", 0.15), ("Homicidio con arma blanca", 0.15),
        ("Homicidio con objeto contundente", 0.1), ("Homicidio por estrangulamiento", 0.1),
    ),
    share=0.0,
    settings=_HOMICIDE_SETTINGS,
    day_profile="violent",
    hour_profile="night",
    group="homicide",
    weapon="homicide",
    victims="homicide",
    delay_hours=1.5,
    special={"femicide": ("Femicidio", "Feminicidio"), "massacre": ("Masacre",)},
)

KINDS: tuple[Kind, ...] = (
    HOMICIDE,
    Kind(
        key="attempted_homicide", iccs="0102",
        terms=(("Tentativa de homicidio", 0.7), ("Homicidio en grado de tentativa", 0.3)),
        share=0.012, settings=_HOMICIDE_SETTINGS, day_profile="violent", hour_profile="night",
        group="person", weapon="homicide", victims="assault",
        victims_per_incident=(0.9, 0.08, 0.02), delay_hours=1.0,
    ),
    Kind(
        key="manslaughter", iccs="01032",
        terms=(("Homicidio culposo", 0.5), ("Homicidio culposo en accidente de tránsito", 0.5)),
        share=0.010, settings=(("city", "street", 0.7), ("rural", "rural", 0.3)),
        day_profile="violent", hour_profile="night", group="person", weapon="vehicle",
        victims="traffic", victims_per_incident=(0.85, 0.12, 0.03), delay_hours=1.0,
    ),
    Kind(
        key="assault", iccs="02011",
        terms=(
            ("Lesiones", 0.35), ("Lesiones graves", 0.15), ("Lesiones leves", 0.25),
            ("Lesiones dolosas", 0.05), ("Agresión física", 0.05),
            ("Lesiones con arma de fuego", 0.15), ("Lesiones con arma blanca", 0.15),
        ),
        share=0.095,
        settings=(
            ("hotspot", "street", 0.40), ("bar", "bar", 0.18), ("city", "street", 0.17),
            ("market", "market", 0.05), ("school", "school", 0.05),
            ("residence", "residence", 0.15),
        ),
        day_profile="violent", hour_profile="night", group="person", weapon="assault",
        victims="assault", victims_per_incident=(0.85, 0.12, 0.03), delay_hours=3.0,
    ),
    Kind(
        # Domestic violence: an assault at home; police write "violencia intrafamiliar" (an
        # ICCS 0201 context, hence "ambiguous") or an assault label.
        key="domestic_violence", iccs="0201",
        terms=(
            ("Violencia intrafamiliar", 0.45), ("Violencia doméstica", 0.15),
            ("Lesiones leves", 0.25), ("Lesiones", 0.15),
        ),
        share=0.07, settings=(("residence", "residence", 1.0),),
        day_profile="domestic", hour_profile="evening", group="person", weapon="domestic",
        victims="domestic", victims_per_incident=(0.92, 0.07, 0.01), delay_hours=18.0,
    ),
    Kind(
        key="threat", iccs="02012",
        terms=(
            ("Amenazas", 0.8), ("Amenazas de muerte", 0.15), ("Amenazas con arma de fuego", 0.2),
        ),
        share=0.055,
        settings=(
            ("residence", "residence", 0.4), ("city", "street", 0.3), ("gang", "street", 0.2),
            ("school", "school", 0.1),
        ),
        day_profile="flat", hour_profile="day", group="person", weapon="threat", victims="adult",
        delay_hours=24.0,
    ),
    Kind(
        key="extortion", iccs="02051",
        terms=(
            ("Extorsión", 0.75), ("Tentativa de extorsión", 0.05), ("Cobro de renta", 0.05),
            ("Renta", 0.05), ("Extorsión a transporte público", 0.4),
            ("Extorsión a comercio", 0.3),
        ),
        share=0.03,
        settings=(
            ("gang", "commercial", 0.45), ("gang", "residence", 0.15),
            ("bus", "public_transport", 0.12), ("terminal", "transport_stop", 0.05),
            ("market", "market", 0.13), ("city", "commercial", 0.10),
        ),
        day_profile="flat", hour_profile="business", group="person", weapon="extortion",
        victims="extortion", boost=_NT_HIGH, delay_hours=48.0,
    ),
    Kind(
        key="kidnapping", iccs="0202",
        terms=(
            ("Secuestro", 0.5), ("Privación de libertad", 0.3), ("Secuestro exprés", 0.1),
            ("Plagio o secuestro", 0.1),
        ),
        share=0.004,
        settings=(("city", "street", 0.6), ("rural", "rural", 0.2), ("gang", "street", 0.2)),
        day_profile="flat", hour_profile="day", group="sexual", weapon="kidnapping",
        victims="kidnapping", victims_per_incident=(0.9, 0.08, 0.02), delay_hours=12.0,
    ),
    Kind(
        key="trafficking", iccs="0204",
        terms=(
            ("Trata de personas", 0.7),
            ("Trata de personas con fines de explotación sexual", 0.3),
        ),
        share=0.0025,
        settings=(
            ("bar", "bar", 0.4), ("city", "commercial", 0.3),
            ("terminal", "transport_stop", 0.3),
        ),
        day_profile="flat", hour_profile="day", group="sexual", victims="trafficking",
        victims_per_incident=(0.7, 0.2, 0.1), delay_hours=240.0,
    ),
    Kind(
        key="rape", iccs="03011",
        terms=(("Violación", 0.7), ("Violación sexual", 0.2), ("Violación agravada", 0.1)),
        share=0.018,
        settings=(
            ("residence", "residence", 0.62), ("city", "street", 0.18),
            ("school", "school", 0.06), ("rural", "rural", 0.14),
        ),
        day_profile="domestic", hour_profile="evening", group="sexual", weapon="sexual",
        victims="sexual", delay_hours=72.0,
        special={"minor": ("Violación de menor de edad", "Violación de menor")},
        minor_age=14,
    ),
    Kind(
        key="sexual_exploitation", iccs="0302",
        terms=(
            ("Explotación sexual", 0.5), ("Explotación sexual comercial", 0.3),
            ("Proxenetismo", 0.2),
        ),
        share=0.002,
        settings=(
            ("bar", "bar", 0.5), ("city", "commercial", 0.3), ("residence", "residence", 0.2),
        ),
        day_profile="flat", hour_profile="evening", group="sexual", victims="trafficking",
        victims_per_incident=(0.8, 0.15, 0.05), delay_hours=240.0,
        special={"minor": ("Explotación sexual de menores",)},
    ),
    Kind(
        key="sexual_assault", iccs="0301",
        terms=(
            ("Agresión sexual", 0.35), ("Abuso sexual", 0.3), ("Acoso sexual", 0.2),
            ("Actos sexuales diversos", 0.15),
        ),
        share=0.022,
        settings=(
            ("residence", "residence", 0.4), ("city", "street", 0.25),
            ("bus", "public_transport", 0.15), ("school", "school", 0.1),
            ("hotspot", "street", 0.1),
        ),
        day_profile="flat", hour_profile="day", group="sexual", weapon="sexual",
        victims="sexual", delay_hours=48.0,
    ),
    Kind(
        key="robbery", iccs="0401",
        terms=(
            ("Robo", 0.35), ("Asalto", 0.1), ("Robo con violencia", 0.1), ("Robo agravado", 0.1),
            ("Robo a peatón", 0.1), ("Robo a transeúnte", 0.1), ("Robo de celular", 0.1),
            ("Robo con arma de fuego", 0.15), ("Robo con arma blanca", 0.1),
            ("Robo en parada de bus", 0.5),
        ),
        share=0.13,
        settings=(
            ("hotspot", "street", 0.55), ("city", "street", 0.2),
            ("stop", "transport_stop", 0.12), ("gang", "street", 0.08),
            ("hotspot", "commercial", 0.05),
        ),
        day_profile="payday", hour_profile="evening", group="person", weapon="robbery",
        victims="adult", delay_hours=4.0,
    ),
    Kind(
        key="robbery_bus", iccs="040111",
        terms=(
            ("Robo a bus", 0.2), ("Robo a buses", 0.1), ("Robo en bus", 0.1),
            ("Robo a pasajeros de bus", 0.1), ("Robo a transporte colectivo", 0.15),
            ("Robo en transporte público", 0.15), ("Asalto a bus", 0.1),
            ("Robo a microbús", 0.05), ("Robo en parada de bus", 0.6),
            ("Robo en parada de autobús", 0.4),
        ),
        share=0.03,
        settings=(("bus", "public_transport", 0.85), ("terminal", "transport_stop", 0.15)),
        day_profile="payday", hour_profile="commute", group="person", weapon="robbery_bus",
        victims="adult", victims_per_incident=(0.35, 0.2, 0.15, 0.1, 0.08, 0.06, 0.04, 0.02),
        boost={"GT": 1.6, "SV": 1.4, "HN": 1.6}, delay_hours=5.0,
    ),
    Kind(
        key="robbery_market", iccs="0401",
        terms=(("Robo en mercado", 0.6), ("Robo en mercados", 0.1), ("Robo", 0.2), ("Asalto", 0.1)),
        share=0.025, settings=(("market", "market", 1.0),),
        day_profile="payday", hour_profile="market", group="person", weapon="robbery_market",
        victims="adult", delay_hours=4.0,
    ),
    Kind(
        key="robbery_business", iccs="04013",
        terms=(
            ("Robo a comercio", 0.4), ("Robo a negocio", 0.3), ("Robo a tienda", 0.2),
            ("Robo a gasolinera", 0.05), ("Robo a farmacia", 0.05), ("Robo a banco", 0.003),
        ),
        share=0.02, settings=(("hotspot", "commercial", 0.55), ("city", "commercial", 0.45)),
        day_profile="payday", hour_profile="day", group="person", weapon="robbery",
        victims="adult", delay_hours=2.0,
    ),
    Kind(
        key="robbery_vehicle", iccs="04012",
        terms=(
            ("Robo de vehículo", 0.3), ("Robo de carro", 0.15), ("Robo de motocicleta", 0.3),
            ("Robo de moto", 0.15), ("Robo a transportista", 0.1),
        ),
        share=0.025,
        settings=(("city", "street", 0.6), ("hotspot", "street", 0.3), ("rural", "rural", 0.1)),
        day_profile="payday", hour_profile="evening", group="person", weapon="robbery",
        victims="adult", delay_hours=3.0,
    ),
    Kind(
        # "Robo" is listed for Costa Rica, where the OIJ uses it for theft with force (0501).
        key="burglary", iccs="0501",
        terms=(
            ("Robo con fuerza en las cosas", 0.2), ("Robo a vivienda", 0.35),
            ("Robo a casa de habitación", 0.15), ("Allanamiento de vivienda", 0.05),
            ("Robo con escalamiento", 0.1), ("Robo a local comercial", 0.15),
            ("Robo con entrada ilícita", 0.05), ("Robo", 0.5),
        ),
        share=0.05,
        settings=(
            ("residence", "residence", 0.75), ("city", "commercial", 0.2),
            ("school", "school", 0.05),
        ),
        day_profile="flat", hour_profile="burglary", group="property", victims="property",
        delay_hours=14.0,
    ),
    Kind(
        key="theft", iccs="0502",
        terms=(
            ("Hurto", 0.5), ("Hurto simple", 0.05), ("Hurto agravado", 0.05),
            ("Hurto de celular", 0.1), ("Carterismo", 0.05), ("Hurto a persona", 0.05),
            ("Hurto en bus", 0.3), ("Hurto en transporte público", 0.2),
            ("Hurto en mercado", 0.4), ("Hurto en comercio", 0.3), ("Hurto en tienda", 0.1),
            ("Hurto en vivienda", 0.3),
        ),
        share=0.23,
        settings=(
            ("hotspot", "street", 0.42), ("city", "street", 0.14), ("market", "market", 0.12),
            ("stop", "transport_stop", 0.07), ("bus", "public_transport", 0.05),
            ("hotspot", "commercial", 0.08), ("city", "commercial", 0.07),
            ("residence", "residence", 0.05),
        ),
        day_profile="property", hour_profile="day", group="property", victims="property",
        delay_hours=10.0,
    ),
    Kind(
        # Costa Rica's "Robo de vehículo" is a vehicle theft (050211); elsewhere a robbery.
        key="theft_vehicle", iccs="05021",
        terms=(
            ("Hurto de vehículo", 0.4), ("Hurto de motocicleta", 0.3),
            ("Hurto de autopartes", 0.15), ("Robo de autopartes", 0.1), ("Robo de vehículo", 0.5),
        ),
        share=0.03, settings=(("city", "street", 0.7), ("hotspot", "street", 0.3)),
        day_profile="property", hour_profile="night", group="property", victims="property",
        delay_hours=8.0,
    ),
    Kind(
        # Thefts from parked cars: a statistic of its own at Costa Rica's OIJ.
        key="theft_from_vehicle", iccs="05022",
        terms=(("Tacha de vehículo", 0.7), ("Tacha", 0.1), ("Hurto de bienes de vehículo", 0.2)),
        share=0.015, settings=(("city", "vehicle", 0.6), ("hotspot", "vehicle", 0.4)),
        day_profile="property", hour_profile="night", group="property", victims="property",
        boost={"CR": 4.0}, delay_hours=8.0,
    ),
    Kind(
        key="drug_possession", iccs="0601",
        terms=(
            ("Posesión de drogas", 0.35), ("Tenencia de drogas", 0.15),
            ("Posesión para el consumo", 0.2), ("Narcomenudeo", 0.2),
            ("Posesión y tenencia", 0.1),
        ),
        share=0.04,
        settings=(
            ("hotspot", "street", 0.45), ("gang", "street", 0.3), ("bar", "bar", 0.15),
            ("city", "street", 0.1),
        ),
        day_profile="police", hour_profile="police", group="state", delay_hours=0.5,
    ),
    Kind(
        key="drug_trafficking", iccs="0601",
        terms=(
            ("Tráfico de drogas", 0.4), ("Tráfico ilícito de drogas", 0.2), ("Narcotráfico", 0.1),
            ("Transporte de drogas", 0.15), ("Venta de drogas", 0.15),
        ),
        share=0.008,
        settings=(
            ("rural", "rural", 0.35), ("city", "vehicle", 0.35), ("gang", "street", 0.15),
            ("terminal", "transport_stop", 0.15),
        ),
        day_profile="police", hour_profile="police", group="state", delay_hours=0.5,
    ),
    Kind(
        key="firearm_carrying", iccs="0901",
        terms=(
            ("Portación ilegal de arma de fuego", 0.5), ("Tenencia ilegal de arma de fuego", 0.15),
            ("Portación de arma de fuego sin licencia", 0.1),
            ("Tenencia, portación o conducción ilegal o irresponsable de arma de fuego", 0.5),
            ("Disparo de arma de fuego", 0.1),
        ),
        share=0.02,
        settings=(("hotspot", "street", 0.45), ("gang", "street", 0.25), ("city", "vehicle", 0.3)),
        day_profile="police", hour_profile="police", group="state", weapon="firearm",
        delay_hours=0.5,
    ),
    Kind(
        key="arms_trafficking", iccs="0901",
        terms=(("Tráfico de armas", 0.5), ("Tráfico de armas de fuego", 0.5)),
        share=0.0015, settings=(("rural", "rural", 0.5), ("city", "vehicle", 0.5)),
        day_profile="police", hour_profile="police", group="state", weapon="firearm",
        delay_hours=0.5,
    ),
    Kind(
        key="fraud", iccs="0701",
        terms=(
            ("Estafa", 0.6), ("Estafa agravada", 0.1), ("Estafa informática", 0.1),
            ("Fraude", 0.1), ("Fraude bancario", 0.1),
        ),
        share=0.03, settings=(("city", "commercial", 0.5), ("residence", "residence", 0.5)),
        day_profile="flat", hour_profile="business", group="property", victims="fraud",
        delay_hours=120.0,
    ),
    Kind(
        key="damage", iccs="0504",
        terms=(
            ("Daños", 0.5), ("Daños a la propiedad", 0.3), ("Vandalismo", 0.1),
            ("Daño agravado", 0.1),
        ),
        share=0.02, settings=(("city", "street", 0.6), ("residence", "residence", 0.4)),
        day_profile="flat", hour_profile="night", group="property", victims="property",
        delay_hours=12.0,
    ),
    Kind(
        key="gang_membership", iccs="0905",
        terms=(
            ("Agrupaciones ilícitas", 0.4), ("Asociaciones ilícitas", 0.2),
            ("Asociación ilícita", 0.2), ("Pertenencia a maras o pandillas", 0.1),
            ("Pandillerismo", 0.1),
        ),
        share=0.01, settings=(("gang", "street", 1.0),),
        day_profile="police", hour_profile="police", group="state",
        boost={"SV": 4.0, "HN": 2.0, "GT": 1.5, "BZ": 0.3, "NI": 0.1, "CR": 0.2, "PA": 0.5},
        delay_hours=0.5,
    ),
    Kind(
        key="migrant_smuggling", iccs="0805",
        terms=(
            ("Tráfico ilícito de migrantes", 0.5), ("Tráfico de migrantes", 0.3),
            ("Coyotaje", 0.2),
        ),
        share=0.002, settings=(("rural", "rural", 0.5), ("terminal", "transport_stop", 0.5)),
        day_profile="police", hour_profile="police", group="state",
        boost={"GT": 2.0, "NI": 1.5, "PA": 1.5, "HN": 1.0, "SV": 0.5, "CR": 0.7, "BZ": 0.7},
        delay_hours=0.5,
    ),
)
# fmt: on
KIND_INDEX: dict[str, int] = {k.key: i for i, k in enumerate(KINDS)}

#: Wording that belongs to some countries' laws or police jargon: weight multipliers, and
#: terms used only where they are at home.
TERM_PREFERENCE: dict[tuple[str, str], float] = {
    ("CR", "Asalto"): 8.0,  # Costa Rica's OIJ records robberies as "asalto"
    ("SV", "Agrupaciones ilícitas"): 3.0,
    ("HN", "Asociación ilícita"): 3.0,
    ("GT", "Asociación ilícita"): 3.0,
    ("SV", "Renta"): 3.0,
    ("HN", "Cobro de renta"): 3.0,
    ("SV", "Robo a microbús"): 3.0,
}
TERM_ONLY_IN: dict[str, frozenset[str]] = {
    "Tenencia, portación o conducción ilegal o irresponsable de arma de fuego": frozenset({"SV"}),
    "Agrupaciones ilícitas": frozenset({"SV"}),
    "Renta": frozenset({"SV", "HN"}),
    "Cobro de renta": frozenset({"SV", "HN", "GT"}),
    "Robo a microbús": frozenset({"SV", "GT", "HN"}),
    "Coyotaje": frozenset({"GT", "HN", "SV"}),
    "Pandillerismo": frozenset({"GT", "HN", "SV", "BZ"}),
    "Pertenencia a maras o pandillas": frozenset({"GT", "HN", "SV"}),
    "Tacha de vehículo": frozenset({"CR"}),
    "Tacha": frozenset({"CR"}),
}

#: Non-homicide incidents recorded per inhabitant, relative: Costa Rica's OIJ and Panama's
#: police record far more property crime per head than the Northern Triangle's police.
RECORDING_INTENSITY: dict[str, float] = {
    "BZ": 1.5,
    "GT": 0.9,
    "SV": 0.8,
    "HN": 0.8,
    "NI": 0.9,
    "CR": 2.2,
    "PA": 1.8,
}


@dataclass(frozen=True)
class Label:
    """A local label as the category table maps it, with its weapon and place-type hints."""

    text: str
    iccs_code: str
    mapping_quality: str
    weapon: str | None = None
    place_type: str | None = None
    context: str | None = None


@dataclass(frozen=True)
class KindLabels:
    """The labels one kind can carry in one country, with their relative weights."""

    labels: tuple[Label, ...]
    weights: tuple[float, ...]
    special: Mapping[str, Label]


# El Salvador's law (LEIV) names the crime "feminicidio"; the others say "femicidio".
_PREFERRED = {("femicide", "SV"): "Feminicidio"}
_QUALITIES = ("exact", "broader", "narrower", "ambiguous")


def _category_table() -> pl.DataFrame:
    from safestreets.reference import categories

    return categories.category_table()


@lru_cache(maxsize=1)
def _table_index() -> dict[str, dict[str, Label | None]]:
    """``{country or "*": {normalised term: Label}}``; ``None`` marks unusable rows.

    A country's own row replaces the region-wide row of the same term, as in the mapper.
    """
    out: dict[str, dict[str, Label | None]] = {}
    rows = _category_table().select(
        "term",
        "term_norm",
        "country",
        "iccs_code",
        "mapping_quality",
        "weapon",
        "place_type",
        "context",
    )
    for term, norm, country, code, quality, weapon, place, context in rows.iter_rows():
        usable = bool(code) and quality in _QUALITIES
        label = Label(term, code, quality, weapon, place, context) if usable else None
        out.setdefault(country, {})[norm] = label
    return out


def _lookup(iso2: str, term: str) -> Label | None:
    index = _table_index()
    key = geo.normalise_name(term)
    own = index.get(iso2, {})
    return own[key] if key in own else index.get("*", {}).get(key)


def _in_family(code: str, family: str) -> bool:
    return code.startswith(family) or family.startswith(code)


@lru_cache(maxsize=256)
def kind_labels(kind_key: str, iso2: str) -> KindLabels | None:
    """Resolve a kind's labels for a country; ``None`` if the country has none of them."""
    kind = KINDS[KIND_INDEX[kind_key]]
    labels: list[Label] = []
    weights: list[float] = []
    for term, w in kind.terms:
        only = TERM_ONLY_IN.get(term)
        if only is not None and iso2 not in only:
            continue
        label = _lookup(iso2, term)
        if label is None or not _in_family(label.iccs_code, kind.iccs) or label in labels:
            continue
        labels.append(label)
        weights.append(w * TERM_PREFERENCE.get((iso2, term), 1.0))
    special: dict[str, Label] = {}
    for role, candidates in kind.special.items():
        preferred = _PREFERRED.get((role, iso2))
        for term in (preferred, *candidates) if preferred else candidates:
            label = _lookup(iso2, term)
            if label is not None and _in_family(label.iccs_code, kind.iccs):
                special[role] = label
                break
    # Every setting needs a label whose place-type hint fits it.
    for _, place_type, _ in kind.settings:
        if not any(lb.place_type in (None, place_type) for lb in labels):
            return None
    return KindLabels(tuple(labels), tuple(weights), special)


# ---------------------------------------------------------------------------------------------
# Weapons, agencies, handling codes, precision
# ---------------------------------------------------------------------------------------------

#: Probabilities over ``schema.WEAPONS`` (firearm, knife, blunt_object, other, none, unknown).
#: Homicides: firearms dominate in the Northern Triangle (and Belize), knives weigh more in the
#: south and above all in Nicaragua.
HOMICIDE_WEAPONS: dict[str, tuple[float, ...]] = {
    "GT": (0.78, 0.10, 0.04, 0.05, 0.0, 0.03),
    "SV": (0.72, 0.14, 0.05, 0.06, 0.0, 0.03),
    "HN": (0.80, 0.10, 0.03, 0.04, 0.0, 0.03),
    "BZ": (0.62, 0.20, 0.06, 0.08, 0.0, 0.04),
    "CR": (0.55, 0.28, 0.07, 0.06, 0.0, 0.04),
    "PA": (0.58, 0.25, 0.07, 0.06, 0.0, 0.04),
    "NI": (0.35, 0.40, 0.10, 0.10, 0.0, 0.05),
}
WEAPON_PROFILES: dict[str, tuple[float, ...]] = {
    "assault": (0.08, 0.22, 0.25, 0.10, 0.30, 0.05),
    "domestic": (0.02, 0.12, 0.20, 0.10, 0.50, 0.06),
    "robbery": (0.40, 0.30, 0.03, 0.07, 0.15, 0.05),
    "robbery_bus": (0.55, 0.25, 0.0, 0.05, 0.10, 0.05),
    "robbery_market": (0.25, 0.35, 0.02, 0.08, 0.25, 0.05),
    "kidnapping": (0.50, 0.10, 0.0, 0.10, 0.20, 0.10),
    "threat": (0.25, 0.15, 0.02, 0.08, 0.40, 0.10),
    "extortion": (0.10, 0.02, 0.0, 0.05, 0.70, 0.13),
    "sexual": (0.03, 0.07, 0.02, 0.05, 0.75, 0.08),
    "firearm": (1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "vehicle": (0.0, 0.0, 0.0, 0.9, 0.0, 0.1),  # a vehicle is "other" in the ICCS list
}


def weapon_probs(profile: str, country: str) -> tuple[float, ...]:
    """Weapon probabilities of a profile in a country."""
    return HOMICIDE_WEAPONS[country] if profile == "homicide" else WEAPON_PROFILES[profile]


#: Recording agencies: (police, prosecutor, forensic institute).
AGENCIES: dict[str, tuple[str, str, str]] = {
    "BZ": ("BZ-BPD", "BZ-ODPP", "BZ-NFSS"),
    "GT": ("GT-PNC", "GT-MP", "GT-INACIF"),
    "SV": ("SV-PNC", "SV-FGR", "SV-IML"),
    "HN": ("HN-DPI", "HN-MP", "HN-DMF"),
    "NI": ("NI-PN", "NI-MP", "NI-IML"),
    "CR": ("CR-OIJ", "CR-MP", "CR-DML"),
    "PA": ("PA-PN", "PA-MP", "PA-IMELCF"),
}
#: Who records what: forensic institutes count bodies, prosecutors receive many sexual offences.
AGENCY_SHARES: dict[str, tuple[float, float, float]] = {
    "homicide": (0.65, 0.15, 0.20),
    "sexual": (0.50, 0.35, 0.15),
    "person": (0.88, 0.12, 0.0),
    "property": (0.92, 0.08, 0.0),
    "state": (0.85, 0.15, 0.0),
}
#: Probabilities over (NATIONAL, REGIONAL, PUBLIC, RESTRICTED): restricted protects victims of
#: sexual offences and trafficking; organised-crime offences are shared regionally more often.
HANDLING: tuple[str, ...] = ("NATIONAL", "REGIONAL", "PUBLIC", "RESTRICTED")
HANDLING_SHARES: dict[str, tuple[float, float, float, float]] = {
    "homicide": (0.76, 0.12, 0.10, 0.02),
    "sexual": (0.60, 0.05, 0.0, 0.35),
    "person": (0.80, 0.12, 0.05, 0.03),
    "property": (0.82, 0.10, 0.06, 0.02),
    "state": (0.60, 0.35, 0.02, 0.03),
}
#: Probabilities over (exact, street, admin2) of ``location_precision``.
LOCATION_PRECISION_SHARES: dict[str, tuple[float, float, float]] = {
    "homicide": (0.93, 0.05, 0.02),
    "default": (0.86, 0.09, 0.05),
    "fraud": (0.50, 0.10, 0.40),  # often only the victim's municipality is known
}
#: Probabilities over (minute, hour, day) of ``occurred_precision``.
TIME_PRECISION_SHARES: dict[str, tuple[float, float, float]] = {
    "homicide": (0.72, 0.24, 0.04),
    "sexual": (0.60, 0.20, 0.20),
    "person": (0.82, 0.12, 0.06),
    "property": (0.70, 0.15, 0.15),
    "state": (0.90, 0.08, 0.02),
}
