"""Small charts for the pages: inline SVG sparklines, and the explorer's trend chart.

A sparkline is drawn here as a few lines of SVG (no library, no request): one ``<polyline>``
in the text colour, a dot on the last value, and a ``<title>`` that says the first and last
values, so a screen reader hears it; the numbers are always in a table beside it. The
explorer's larger chart is :func:`safestreets.stats.charts.trend_chart` as SVG, shown as an
image (``data:`` URI: its own styles stay inside it, the page's CSP forbids inline styles).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["sparkline", "svg_data_uri"]


def sparkline(
    values: Sequence[float | None], *, label: str, width: int = 120, height: int = 32
) -> Markup:
    """An inline SVG line of ``values`` (None breaks the line), labelled ``label``."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    title = f"<title>{escape(label)}</title>"
    if len(finite) < 2:
        return Markup(
            f'<svg class="spark" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{title}</svg>'
        )
    # From zero (when all values are positive), so a flat rate does not look like a swing.
    lo, hi = min(0.0, *finite), max(finite)
    span = hi - lo or 1.0
    pad = 3.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return pad + i * step, height - pad - (v - lo) / span * (height - 2 * pad)

    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(xy(i, v))
    lines = "".join(
        '<polyline fill="none" stroke="currentColor" stroke-width="1.6" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        + '"/>'
        for run in runs
        if len(run) > 1
    )
    last_i = max(i for i, v in enumerate(values) if v is not None and math.isfinite(v))
    lx, ly = xy(last_i, float(values[last_i]))  # type: ignore[arg-type]
    dot = f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="2.5" fill="currentColor"/>'
    return Markup(
        f'<svg class="spark" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{title}{lines}{dot}</svg>'
    )


def svg_data_uri(svg: bytes) -> str:
    """An SVG document as a ``data:`` URI for an ``<img>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
