"""When synthetic incidents happen: day-of-year and hour-of-day profiles, local time to UTC.

The profiles encode what police analysts in the region expect to see: violence peaks at night
and on weekends, robbery on paydays (the 15th and the last day of the month, when wages are
paid in cash), property crime in daytime, bus robbery at commuting hours, domestic violence on
weekend evenings and holidays; a mild seasonal cycle peaks in December (the *aguinaldo*).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_EPOCH = date(1970, 1, 1)

#: Monday..Sunday multipliers, December-peaking seasonal amplitude and payday multiplier.
_DAY_PROFILES: dict[str, tuple[tuple[float, ...], float, float]] = {
    "violent": ((0.9, 0.88, 0.9, 0.95, 1.1, 1.32, 1.3), 0.06, 1.1),
    "domestic": ((0.9, 0.88, 0.9, 0.95, 1.05, 1.32, 1.42), 0.05, 1.0),
    "payday": ((0.97, 0.97, 0.97, 1.0, 1.15, 1.05, 0.85), 0.08, 1.5),
    "property": ((1.03, 1.0, 1.0, 1.0, 1.05, 1.0, 0.85), 0.08, 1.1),
    "flat": ((1.05, 1.05, 1.05, 1.05, 1.0, 0.9, 0.8), 0.04, 1.0),
    "police": ((1.05, 1.1, 1.1, 1.1, 1.15, 0.9, 0.6), 0.03, 1.0),
}

# fmt: off
#: Relative weight of each local hour 0..23.
_HOUR_PROFILES: dict[str, tuple[float, ...]] = {
    "night": (
        6, 5, 4, 3, 2, 1.5, 1.5, 1.5, 2, 2, 2.5, 2.5,
        3, 3, 3, 3, 3.5, 4, 5, 6, 7, 7.5, 7.5, 7,
    ),
    "evening": (
        4, 3, 2, 1.5, 1, 1, 1.5, 2, 2.5, 3, 3, 3.5,
        3.5, 3.5, 3.5, 4, 4.5, 5, 6, 6.5, 6.5, 6, 5.5, 5,
    ),
    "day": (
        1, 0.7, 0.5, 0.4, 0.4, 0.6, 1.2, 2.5, 4, 5, 5.5, 6,
        6, 6, 6, 6, 6, 6, 5.5, 5, 4, 3, 2, 1.5,
    ),
    "commute": (
        0.5, 0.3, 0.2, 0.3, 1.5, 4, 7, 7, 5, 3, 2.5, 2.5,
        2.5, 3, 3, 3.5, 4.5, 6.5, 7, 6, 4, 2.5, 1.5, 1,
    ),
    "market": (
        0.3, 0.2, 0.2, 0.5, 2, 4, 6, 7, 7, 7, 6.5, 6,
        5.5, 5, 4, 3, 2.5, 2, 1.5, 1, 0.7, 0.5, 0.4, 0.3,
    ),
    "business": (
        0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3, 5, 6, 6, 6,
        5, 5, 5.5, 5.5, 5, 4, 2.5, 1.5, 1, 0.6, 0.4, 0.3,
    ),
    "burglary": (
        2, 2.5, 2.5, 2, 1.5, 1, 1, 1.5, 3, 4, 4.5, 4.5,
        4, 4, 4.5, 4.5, 4, 3.5, 3, 2.5, 2, 2, 2, 2,
    ),
    "police": (
        2, 1.5, 1, 0.8, 0.5, 0.5, 0.8, 1.5, 3, 4, 4.5, 4.5,
        4, 4, 4, 4, 4, 4.5, 5, 5.5, 5.5, 5, 4, 3,
    ),
}
# fmt: on
HOUR_PROFILE_NAMES: tuple[str, ...] = tuple(_HOUR_PROFILES)
_HOUR_CUM = np.cumsum(
    np.array([np.asarray(v) / np.sum(v) for v in _HOUR_PROFILES.values()]), axis=1
)
_HOUR_CUM[:, -1] = 1.0

# Holidays with more domestic violence and drinking: Christmas Eve/Day, New Year.
_HOLIDAYS = ((12, 24), (12, 25), (12, 31), (1, 1))
_HOLIDAY_FACTOR = {"domestic": 1.8, "violent": 1.3}


@lru_cache(maxsize=256)
def day_weights(profile: str, year: int) -> FloatArray:
    """Relative weight of each day of ``year`` for a day profile (sums to 1)."""
    weekday_f, season_amp, payday_f = _DAY_PROFILES[profile]
    n = 366 if calendar.isleap(year) else 365
    doy = np.arange(n)
    first = date(year, 1, 1)
    weekday = (first.weekday() + doy) % 7
    w = np.asarray(weekday_f)[weekday]
    # Seasonal cycle peaking around 20 December, and a slight upward drift through the year.
    w = (
        w
        * (1.0 + season_amp * np.cos(2 * np.pi * (doy - (n - 11)) / n))
        * (1.0 + 0.03 * (doy / n - 0.5))
    )
    if payday_f != 1.0:
        start = 0
        for m in range(1, 13):
            days = calendar.monthrange(year, m)[1]
            last = start + days - 1
            half = 1 + (payday_f - 1) / 2  # the money is still there the next day
            w[start + 14] *= payday_f  # the 15th
            w[start + 15] *= half
            w[last] *= payday_f
            if last + 1 < n:
                w[last + 1] *= half
            start += days
    holiday_f = _HOLIDAY_FACTOR.get(profile)
    if holiday_f:
        for m, d in _HOLIDAYS:
            w[(date(year, m, d) - first).days] *= holiday_f
    return w / w.sum()


def sample_days(rng: np.random.Generator, n: int, profile: str, year: int) -> IntArray:
    """Draw ``n`` day-of-year indices (0-based) from a day profile."""
    cum = np.cumsum(day_weights(profile, year))
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return np.minimum(idx, len(cum) - 1).astype(np.int64)


def sample_seconds(rng: np.random.Generator, profile_idx: IntArray) -> IntArray:
    """Draw a local second of the day for each row from its hour profile."""
    u = rng.random(len(profile_idx))
    hour = (u[:, None] > _HOUR_CUM[profile_idx]).sum(axis=1)
    return hour * 3600 + rng.integers(0, 3600, len(profile_idx))


@lru_cache(maxsize=64)
def day_starts_utc(timezone: str, year: int) -> IntArray:
    """UTC epoch second of local midnight of each day of ``year`` in ``timezone``.

    Uses the zone's offset at local noon, which is exact for every Central American zone since
    2007 (none keeps daylight saving time) and off by at most an hour on a changeover day before.
    """
    tz = ZoneInfo(timezone)
    n = 366 if calendar.isleap(year) else 365
    first = (date(year, 1, 1) - _EPOCH).days
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        d = date.fromordinal(date(year, 1, 1).toordinal() + i)
        offset = datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset()
        assert offset is not None
        out[i] = (first + i) * 86400 - int(offset.total_seconds())
    return out
