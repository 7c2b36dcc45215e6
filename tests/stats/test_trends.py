"""Period changes, year-over-year matching and unusual-period flags on small built frames."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats

from safestreets.errors import InputError
from safestreets.stats.trends import (
    granularity,
    period_changes,
    unusual_periods,
    year_over_year,
)


def _month(year: int, month: int) -> tuple[str, date, date]:
    start = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return f"{year}-{month:02d}", start, nxt - timedelta(days=1)


def _months(first_year: int, n: int) -> list[tuple[str, date, date]]:
    return [_month(first_year + i // 12, i % 12 + 1) for i in range(n)]


def _year(year: int) -> tuple[str, date, date]:
    return str(year), date(year, 1, 1), date(year, 12, 31)


def _frame(
    periods: list[tuple[str, date, date]], counts: list[int | None], **extra
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period": [p for p, _, _ in periods],
            "period_start": [s for _, s, _ in periods],
            "period_end": [e for _, _, e in periods],
            "count": pl.Series(counts, dtype=pl.Int64),
            **extra,
        }
    )


# ---------------------------------------------------------------------------------------------
# period_changes
# ---------------------------------------------------------------------------------------------


def test_significant_rise_by_hand_in_spanish_and_english() -> None:
    frame = _frame([_year(2020), _year(2021)], [200, 300])
    es = period_changes(frame).row(1, named=True)
    # No population: exposure is days, 366 (leap year) against 365.
    p = stats.binomtest(300, 500, 365 / (366 + 365)).pvalue
    assert es["p_value"] == pytest.approx(p)
    assert es["p_value"] < 1e-4  # z = (300 - 249.7) / 11.2, about 4.5
    assert (es["previous"], es["change"], es["pct_change"]) == (200, 100, 50.0)
    assert es["direction"] == "up"
    assert es["description"] == "Subió 50 % (de 200 a 300); el cambio es estadísticamente claro."
    en = period_changes(frame, lang="en").row(1, named=True)
    assert en["description"] == "Up 50% (from 200 to 300); the change is statistically clear."


def test_non_significant_change_is_described_as_unclear() -> None:
    frame = _frame([_year(2020), _year(2021)], [22, 25])
    row = period_changes(frame).row(1, named=True)
    assert row["direction"] == "no_clear_change"
    assert row["p_value"] > 0.5
    assert row["description"] == (
        "Sin cambio claro: 25 frente a 22 (la diferencia cabe en la variación aleatoria)."
    )
    en = period_changes(frame, lang="en").row(1, named=True)
    assert en["description"].startswith("No clear change: 25 compared with 22")


def test_a_fall_and_the_first_period() -> None:
    frame = _frame([_year(2019), _year(2020)], [400, 300])
    first, second = period_changes(frame).rows(named=True)
    assert first["direction"] is None and first["previous"] is None
    assert first["description"] == "Sin período anterior con el que comparar."
    assert second["direction"] == "down"
    assert second["description"].startswith("Bajó 25 % (de 400 a 300)")


def test_groups_are_kept_separate_and_input_order_is_kept() -> None:
    years = [_year(2020), _year(2021)]
    frame = pl.concat(
        [
            _frame(years, [10, 30], area=["B", "B"]),
            _frame(years, [500, 100], area=["A", "A"]),
        ]
    )
    out = period_changes(frame, by=["area"])
    assert out.columns[: len(frame.columns)] == frame.columns
    assert out["area"].to_list() == ["B", "B", "A", "A"]
    assert out["previous"].to_list() == [None, 10, None, 500]
    assert out["direction"].to_list() == [None, "up", None, "down"]


def test_pct_change_is_null_after_zero() -> None:
    frame = _frame([_year(2020), _year(2021)], [0, 12])
    row = period_changes(frame).row(1, named=True)
    assert row["pct_change"] is None
    assert row["direction"] == "up"
    assert row["description"] == "Subió de 0 a 12; el cambio es estadísticamente claro."


def test_both_zero_is_no_change() -> None:
    row = period_changes(_frame([_year(2020), _year(2021)], [0, 0])).row(1, named=True)
    assert (row["direction"], row["p_value"]) == ("no_clear_change", 1.0)
    assert row["description"] == "Sin cambio: 0 en ambos períodos."


def test_suppressed_counts_give_no_direction() -> None:
    frame = _frame([_year(2019), _year(2020), _year(2021)], [40, None, 45])
    _, withheld, after = period_changes(frame).rows(named=True)
    assert withheld["direction"] is None and withheld["change"] is None
    assert withheld["description"] == "Cifra reservada por confidencialidad; no se puede comparar."
    assert after["direction"] is None and after["p_value"] is None
    assert "(2020) está reservada" in after["description"]
    en = period_changes(frame, lang="en").row(1, named=True)
    assert en["description"].startswith("Figure withheld")


def test_population_enters_the_exposure() -> None:
    # Same count, twice the people: the level per person fell even though the count did not.
    frame = _frame([_year(2021), _year(2022)], [100, 100], population=[50_000, 100_000])
    row = period_changes(frame).row(1, named=True)
    p = stats.binomtest(100, 200, 2 / 3).pvalue  # both years have 365 days
    assert row["p_value"] == pytest.approx(p)
    assert row["direction"] == "down"
    assert row["description"] == (
        "Sin cambio: 100 en ambos períodos, pero ajustado por la duración del período y la "
        "población el nivel bajó de forma estadísticamente clara."
    )


def test_a_rate_is_described_but_tested_on_counts() -> None:
    frame = _frame(
        [_year(2021), _year(2022)],
        [150, 210],
        population=[1_200_000, 1_200_000],
        rate_per_100k=[12.5, 17.5],
    )
    row = period_changes(frame, value="rate_per_100k").row(1, named=True)
    assert row["previous"] == 12.5 and row["change"] == pytest.approx(5.0)
    assert row["p_value"] == pytest.approx(stats.binomtest(210, 360, 0.5).pvalue)
    assert row["description"] == (
        "Subió 40 % (de 12,5 a 17,5); el cambio es estadísticamente claro."
    )
    en = period_changes(frame, value="rate_per_100k", lang="en").row(1, named=True)
    assert en["description"].startswith("Up 40% (from 12.5 to 17.5)")


def test_lag_twelve_pairs_by_position_and_year_over_year_by_label() -> None:
    periods = [p for p in _months(2020, 18) if p[0] != "2020-03"]  # a gap in March 2020
    counts = list(range(100, 100 + len(periods)))
    frame = _frame(periods, counts)
    by_position = period_changes(frame, lag=12)
    by_label = year_over_year(frame)
    march = by_label.filter(pl.col("period") == "2021-03").row(0, named=True)
    assert march["previous_period"] is None and march["direction"] is None
    assert march["description"] == "Sin período anterior con el que comparar."
    # The positional lag slips past the gap and pairs March 2021 with February 2020.
    assert by_position.filter(pl.col("period") == "2021-03")["previous_period"][0] == "2020-02"
    april = by_label.filter(pl.col("period") == "2021-04").row(0, named=True)
    assert april["previous_period"] == "2020-04"
    assert april["previous"] == frame.filter(pl.col("period") == "2020-04")["count"][0]


def test_year_over_year_weeks_quarters_and_groups() -> None:
    weeks = [
        ("2020-W07", date(2020, 2, 10), date(2020, 2, 16)),
        ("2021-W07", date(2021, 2, 15), date(2021, 2, 21)),
    ]
    frame = pl.concat(
        [_frame(weeks, [5, 9], area=["A", "A"]), _frame(weeks, [7, 1], area=[None, None])]
    )
    out = year_over_year(frame, by=["area"], lang="en")
    assert out["previous_period"].to_list() == [None, "2020-W07", None, "2020-W07"]
    assert out["previous"].to_list() == [None, 5, None, 7]
    quarters = [
        ("2020-Q2", date(2020, 4, 1), date(2020, 6, 30)),
        ("2021-Q2", date(2021, 4, 1), date(2021, 6, 30)),
    ]
    assert year_over_year(_frame(quarters, [3, 4]))["previous"].to_list() == [None, 3]


def test_granularity_and_bad_labels() -> None:
    assert granularity(_frame(_months(2020, 2), [1, 2])) == "month"
    mixed = _frame([_year(2020), _month(2021, 1)], [1, 2])
    with pytest.raises(InputError) as err:
        year_over_year(mixed)
    assert err.value.hint and "2021-Q2" in err.value.hint


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"by": ["area"]}, "no column 'area'"),
        ({"lang": "fr"}, "Unknown language"),
        ({"lag": 0}, "lag must be"),
        ({"alpha": 1.5}, "alpha must be"),
        ({"value": "period"}, "not numeric"),
    ],
)
def test_argument_errors(kwargs: dict, words: str) -> None:
    frame = _frame([_year(2020), _year(2021)], [1, 2])
    with pytest.raises(InputError, match=words) as err:
        period_changes(frame, **kwargs)
    assert err.value.hint


def test_duplicate_periods_ask_for_a_breakdown() -> None:
    frame = _frame([_year(2020), _year(2020)], [1, 2], area=["A", "B"])
    with pytest.raises(InputError, match="More than one row") as err:
        period_changes(frame)
    assert err.value.hint and "by=" in err.value.hint
    assert period_changes(frame, by=["area"]).height == 2


def test_negative_counts_are_refused() -> None:
    with pytest.raises(InputError, match="negative"):
        period_changes(_frame([_year(2020), _year(2021)], [3, -1]))


def test_a_rate_without_counts_is_refused() -> None:
    frame = _frame([_year(2020), _year(2021)], [1, 2], rate=[1.0, 2.0]).drop("count")
    with pytest.raises(InputError, match="no 'count' column"):
        period_changes(frame, value="rate")


def test_empty_frame_gets_the_columns() -> None:
    empty = _frame([], []).cast({"period_start": pl.Date, "period_end": pl.Date})
    assert "description" in period_changes(empty).columns
    assert "description" in year_over_year(empty).columns
    assert "flag" in unusual_periods(empty).columns


# ---------------------------------------------------------------------------------------------
# unusual_periods
# ---------------------------------------------------------------------------------------------


def _seasonal_series(rng: np.random.Generator, *, years: int = 5, level: float = 60.0) -> list[int]:
    """Poisson monthly counts with a yearly cycle and a daily rate (so month length matters)."""
    out = []
    for _, start, end in _months(2019, 12 * years):
        days = (end - start).days + 1
        mu = level * (1 + 0.3 * np.sin(2 * np.pi * start.month / 12)) * days / 30.4
        out.append(int(rng.poisson(mu)))
    return out


def test_an_injected_spike_is_flagged_high_and_a_drop_low() -> None:
    rng = np.random.default_rng(20240611)
    counts = _seasonal_series(rng)
    periods = _months(2019, 60)
    spike, drop = periods.index(_month(2023, 7)), periods.index(_month(2022, 10))
    counts[spike] *= 3
    counts[drop] //= 4
    out = unusual_periods(_frame(periods, counts))
    high = out.row(spike, named=True)
    assert high["flag"] == "high"
    assert high["count"] > high["upper"]
    assert high["reference_n"] == 9
    assert high["note"].startswith(f"Inusualmente alto: {counts[spike]}, cuando se esperaban unos")
    assert "rango esperado al 99 %" in high["note"]
    assert out.row(drop, named=True)["flag"] == "low"
    assert out["flag"].drop_nulls().len() <= 4
    en = unusual_periods(_frame(periods, counts), lang="en").row(spike, named=True)
    assert en["note"].startswith("Unusually high:") and "99% expected range" in en["note"]


def test_a_steady_series_has_few_false_flags() -> None:
    rng = np.random.default_rng(7)
    periods = _months(2019, 60)
    frames = [
        _frame(periods, _seasonal_series(rng, level=float(rng.uniform(5, 200))), area=[i] * 60)
        for i in range(20)
    ]
    alpha = 0.01
    out = unusual_periods(pl.concat(frames), by=["area"], alpha=alpha)
    judged = out.filter(pl.col("expected").is_not_null())
    assert judged.height == 20 * 36  # years 3 to 5 have at least 5 reference months
    assert judged["flag"].drop_nulls().len() / judged.height <= 2 * alpha


def test_too_short_history_gives_nulls_and_a_note() -> None:
    periods = _months(2022, 14)
    out = unusual_periods(_frame(periods, [30] * 14))
    assert out["expected"].null_count() == 14 and out["flag"].null_count() == 14
    last = out.row(13, named=True)  # February 2023: Jan, Feb, Mar 2022 only
    assert last["reference_n"] == 3
    assert (
        last["note"] == "Historia insuficiente: 3 valores de referencia (se necesitan al menos 5)."
    )
    en = unusual_periods(_frame(periods, [30] * 14), lang="en").row(13, named=True)
    assert en["note"] == "Not enough history: 3 reference values (at least 5 needed)."


def test_negative_binomial_interval_matches_scipy_by_hand() -> None:
    rng = np.random.default_rng(3)
    periods = _months(2019, 48)
    counts = [int(c) for c in rng.negative_binomial(5, 5 / (5 + 80), size=48)]  # overdispersed
    population = [100_000 + 2_000 * i for i in range(48)]
    frame = _frame(periods, counts, population=population)
    target = periods.index(_month(2022, 3))
    row = unusual_periods(frame, alpha=0.02).row(target, named=True)

    # The method written out: same month +/- 1 in 2019-2021, scaled to March 2022's exposure.
    days = [(e - s).days + 1 for _, s, e in periods]
    exposure = [d * p for d, p in zip(days, population, strict=True)]
    refs = [target - 12 * k + d for k in (1, 2, 3) for d in (-1, 0, 1)]
    scaled = np.array([counts[i] * exposure[target] / exposure[i] for i in refs])
    mu = scaled.mean()
    phi = max(1.0, scaled.var(ddof=1) / mu)
    assert phi > 1
    lower, upper = stats.nbinom.ppf([0.01, 0.99], mu / (phi - 1), 1 / phi)
    assert row["reference_n"] == 9
    assert row["expected"] == pytest.approx(mu)
    assert row["dispersion"] == pytest.approx(phi)
    assert (row["lower"], row["upper"]) == (int(lower), int(upper))


def test_poisson_interval_when_there_is_no_overdispersion() -> None:
    # Weekly, all 7 days long, all counts equal: variance 0, so phi = 1 and the Poisson is used.
    starts = [date(2018, 1, 1) + timedelta(weeks=i) for i in range(52 * 3 + 10)]
    periods = [
        (f"{s.isocalendar()[0]}-W{s.isocalendar()[1]:02d}", s, s + timedelta(days=6))
        for s in starts
    ]
    out = unusual_periods(_frame(periods, [30] * len(periods)), window=2)
    row = out.row(len(periods) - 1, named=True)
    lower, upper = stats.poisson.ppf([0.005, 0.995], 30)
    assert row["reference_n"] == 15
    assert (row["expected"], row["dispersion"]) == (30.0, 1.0)
    assert (row["lower"], row["upper"]) == (int(lower), int(upper))
    assert row["flag"] is None
    assert row["note"].startswith("Dentro de lo esperado: 30")


def test_a_suppressed_period_is_not_judged_and_not_used() -> None:
    periods = _months(2019, 48)
    counts: list[int | None] = [50] * 48
    counts[40] = None
    counts[28] = None  # a reference month of counts[40]
    row = unusual_periods(_frame(periods, counts)).row(40, named=True)
    assert row["flag"] is None and row["expected"] is not None
    assert row["reference_n"] == 8
    assert row["note"] == "Cifra reservada por confidencialidad; no se evalúa."


def test_unusual_argument_errors() -> None:
    with pytest.raises(InputError, match="monthly, quarterly or weekly"):
        unusual_periods(_frame([_year(y) for y in range(2015, 2022)], [1] * 7))
    quarters = [(f"2020-Q{q}", date(2020, 3 * q - 2, 1), date(2020, 3 * q - 2, 28)) for q in (1, 2)]
    with pytest.raises(InputError, match="overlaps"):
        unusual_periods(_frame(quarters, [1, 2]), window=2)
    with pytest.raises(InputError, match="years_back"):
        unusual_periods(_frame(quarters, [1, 2]), years_back=0)
