"""Reference data: geography, population, ICCS and local crime categories.

Everything here is package data loaded once (``functools.lru_cache``); see
``safestreets/reference/data/README.md`` for sources and licences.
"""

from safestreets.reference.categories import (
    category_table,
    map_categories,
    normalise_category,
)
from safestreets.reference.geo import (
    COUNTRY_CODES,
    admin1,
    admin2,
    countries,
    country_of_point,
    country_outline,
    normalise_name,
    places,
    points_in_country,
    resolve_admin1,
    resolve_admin1_series,
    resolve_admin2,
)
from safestreets.reference.iccs import (
    iccs_descendants,
    iccs_index,
    iccs_level,
    iccs_name,
    iccs_parent,
    iccs_rollup,
    iccs_rollup_series,
    iccs_table,
    is_iccs_code,
)
from safestreets.reference.population import (
    country_population,
    homicide_rates,
    latest_homicide_rate,
    population_of,
)

__all__ = [
    "COUNTRY_CODES",
    "admin1",
    "admin2",
    "category_table",
    "countries",
    "country_of_point",
    "country_outline",
    "country_population",
    "homicide_rates",
    "iccs_descendants",
    "iccs_index",
    "iccs_level",
    "iccs_name",
    "iccs_parent",
    "iccs_rollup",
    "iccs_rollup_series",
    "iccs_table",
    "is_iccs_code",
    "latest_homicide_rate",
    "map_categories",
    "normalise_category",
    "normalise_name",
    "places",
    "points_in_country",
    "population_of",
    "resolve_admin1",
    "resolve_admin1_series",
    "resolve_admin2",
]
