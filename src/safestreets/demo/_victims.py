"""Who the victims of synthetic incidents are: sex and age by kind of incident.

Age profiles are given per UNODC age band (``schema.AGE_BANDS``) and drawn uniformly inside the
band, so the bands an analyst tabulates come out as specified. Homicide victims are mostly young
men; sexual and domestic violence victims mostly women and girls, with many children among
victims of sexual violence, as in the region's forensic and prosecution statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

FEMALE, MALE, UNKNOWN = 0, 1, 2
SEX_NAMES = ("female", "male", "unknown")
#: Lower and upper bound (inclusive) of each UNODC age band; 60+ is drawn 60-95.
_BAND_LO = np.array([0, 10, 15, 18, 20, 25, 30, 45, 60])
_BAND_HI = np.array([9, 14, 17, 19, 24, 29, 44, 59, 95])


@dataclass(frozen=True)
class VictimModel:
    """Sex and age distribution of the victims of one kind of incident."""

    p_male: float
    p_unknown_sex: float
    p_unknown_age: float
    bands_female: tuple[float, ...]
    bands_male: tuple[float, ...]


# fmt: off
_ADULT = (0.0, 0.01, 0.03, 0.04, 0.12, 0.15, 0.35, 0.2, 0.1)
_PROPERTY = (0.0, 0.005, 0.02, 0.04, 0.13, 0.15, 0.34, 0.2, 0.115)

MODELS: dict[str, VictimModel] = {
    "homicide": VictimModel(
        0.88, 0.005, 0.03,
        (0.04, 0.03, 0.07, 0.07, 0.14, 0.15, 0.30, 0.14, 0.06),
        (0.008, 0.01, 0.05, 0.08, 0.20, 0.19, 0.30, 0.11, 0.052),
    ),
    "assault": VictimModel(
        0.70, 0.01, 0.04,
        (0.03, 0.04, 0.07, 0.07, 0.15, 0.15, 0.30, 0.13, 0.06),
        (0.01, 0.03, 0.07, 0.08, 0.18, 0.17, 0.30, 0.12, 0.04),
    ),
    "domestic": VictimModel(
        0.15, 0.005, 0.03,
        (0.03, 0.03, 0.04, 0.05, 0.15, 0.18, 0.36, 0.13, 0.03),
        (0.12, 0.10, 0.07, 0.03, 0.08, 0.10, 0.22, 0.15, 0.13),
    ),
    "sexual": VictimModel(
        0.10, 0.005, 0.03,
        (0.11, 0.24, 0.20, 0.07, 0.12, 0.09, 0.12, 0.04, 0.01),
        (0.30, 0.30, 0.15, 0.04, 0.06, 0.05, 0.06, 0.03, 0.01),
    ),
    "trafficking": VictimModel(
        0.25, 0.02, 0.05,
        (0.02, 0.16, 0.30, 0.12, 0.20, 0.10, 0.08, 0.02, 0.0),
        (0.06, 0.16, 0.24, 0.10, 0.20, 0.14, 0.10, 0.0, 0.0),
    ),
    "kidnapping": VictimModel(
        0.60, 0.01, 0.04,
        (0.06, 0.05, 0.08, 0.07, 0.14, 0.14, 0.30, 0.11, 0.05),
        (0.06, 0.05, 0.08, 0.07, 0.14, 0.14, 0.30, 0.11, 0.05),
    ),
    "extortion": VictimModel(
        0.62, 0.05, 0.06,
        (0.0, 0.0, 0.005, 0.015, 0.08, 0.14, 0.45, 0.23, 0.08),
        (0.0, 0.0, 0.005, 0.015, 0.08, 0.14, 0.45, 0.23, 0.08),
    ),
    "traffic": VictimModel(
        0.75, 0.01, 0.04,
        (0.04, 0.03, 0.04, 0.04, 0.12, 0.12, 0.28, 0.20, 0.13),
        (0.04, 0.03, 0.04, 0.04, 0.12, 0.12, 0.28, 0.20, 0.13),
    ),
    "adult": VictimModel(0.55, 0.02, 0.05, _ADULT, _ADULT),
    # Businesses are victims too: more unknown sex and age.
    "property": VictimModel(0.52, 0.10, 0.12, _PROPERTY, _PROPERTY),
    "fraud": VictimModel(
        0.48, 0.08, 0.10,
        (0.0, 0.0, 0.005, 0.015, 0.08, 0.12, 0.35, 0.28, 0.15),
        (0.0, 0.0, 0.005, 0.015, 0.08, 0.12, 0.35, 0.28, 0.15),
    ),
}
# fmt: on
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


def _cum(bands: tuple[float, ...]) -> npt.NDArray[np.float64]:
    c = np.cumsum(np.asarray(bands, dtype=np.float64))
    return c / c[-1]


_P_MALE = np.array([m.p_male for m in MODELS.values()])
_P_UNK_SEX = np.array([m.p_unknown_sex for m in MODELS.values()])
_P_UNK_AGE = np.array([m.p_unknown_age for m in MODELS.values()])
# [model, sex (female, male), band]; unknown sex uses the male profile.
_BAND_CUM = np.array([[_cum(m.bands_female), _cum(m.bands_male)] for m in MODELS.values()])


@dataclass(frozen=True)
class Victims:
    """Victim rows of a block: the incident each belongs to (row index), number, sex, age."""

    incident: IntArray
    victim_no: IntArray
    sex: IntArray
    age: IntArray  # -1 where unknown


def draw_counts(rng: np.random.Generator, probs: tuple[float, ...], n: int) -> IntArray:
    """Number of victims per incident from the probabilities of 1, 2, 3..."""
    cum = np.cumsum(probs)
    return (np.searchsorted(cum / cum[-1], rng.random(n), side="right") + 1).astype(np.int64)


def draw_victims(rng: np.random.Generator, model_idx: IntArray, counts: IntArray) -> Victims:
    """Draw victims for incidents with the given model index and number of victims."""
    incident = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    m = np.repeat(model_idx, counts)
    n = len(incident)
    starts = np.cumsum(counts) - counts
    victim_no = np.arange(n, dtype=np.int64) - np.repeat(starts, counts) + 1

    u = rng.random(n)
    sex = np.where(u < _P_UNK_SEX[m], UNKNOWN, np.where(rng.random(n) < _P_MALE[m], MALE, FEMALE))
    cum = _BAND_CUM[m, np.minimum(sex, MALE)]
    band = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, 8)
    lo, hi = _BAND_LO[band], _BAND_HI[band]
    age = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    # Few very old victims: inside 60+, ages thin out exponentially towards 95.
    old = band == 8
    age[old] = np.minimum(60 + np.floor(rng.exponential(9.0, int(old.sum()))).astype(np.int64), 95)
    age[rng.random(n) < _P_UNK_AGE[m]] = -1
    return Victims(incident, victim_no, sex.astype(np.int64), age.astype(np.int64))
