"""Plotly figures as plain dicts (no `go.Figure`), serialised once and safe inside a <script>.

Building a `go.Figure` validates every property (~1.3 ms a chart) and drags in the default
template (~6.4 KB a chart); for a thousand pages we write the figure data as plain dicts and keep
the layout every chart shares in `static/site.js` (SHARED_LAYOUT), so a page only carries what is
its own. Every chart has a table with the same numbers next to it: the chart is hidden from
screen readers and the table is what prints and what works without JavaScript.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import orjson
from markupsafe import Markup

# The colours of the four behaviours and of the intervals (contrast >= 3:1 on white).
BAR_COLOUR = "#1f5f8b"
LINE_COLOUR = "#8a3b12"
HEATMAP_SCALE = [[0.0, "#b2182b"], [0.5, "#f7f7f7"], [1.0, "#2166ac"]]


def label(text: str) -> str:
    """User-entered text for Plotly, which reads a few HTML tags in labels: show them as text."""
    return html.escape(text, quote=False)


def _round(values: Sequence[float | None], digits: int = 1) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]


def interval_bars(
    names: Sequence[str],
    means: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    axis_title: str,
) -> dict[str, Any]:
    """Horizontal bars of means with their 95 % intervals as error bars (0..100)."""
    plus = [None if m is None or h is None else h - m for m, h in zip(means, highs, strict=True)]
    minus = [None if m is None or lo is None else m - lo for m, lo in zip(means, lows, strict=True)]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [label(n) for n in names],
                "x": _round(means),
                "marker": {"color": BAR_COLOUR},
                "error_x": {"type": "data", "array": _round(plus), "arrayminus": _round(minus), "color": "#222"},
                "hoverinfo": "x+y",
            }
        ],
        "layout": {
            "xaxis": {"range": [0, 100], "title": {"text": axis_title}},
            "yaxis": {"autorange": "reversed", "automargin": True},
            "height": 80 + 44 * len(names),
        },
    }


def trend_line(
    periods: Sequence[str],
    means: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    axis_title: str,
) -> dict[str, Any]:
    """The mean score per period with its interval as error bars."""
    plus = [None if m is None or h is None else h - m for m, h in zip(means, highs, strict=True)]
    minus = [None if m is None or lo is None else m - lo for m, lo in zip(means, lows, strict=True)]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": list(periods),
                "y": _round(means),
                "line": {"color": LINE_COLOUR},
                "error_y": {"type": "data", "array": _round(plus), "arrayminus": _round(minus), "color": LINE_COLOUR},
                "connectgaps": False,
            }
        ],
        "layout": {
            "yaxis": {"range": [0, 100], "title": {"text": axis_title}},
            "xaxis": {"type": "category"},
            "height": 300,
        },
    }


def histogram(
    lows: Sequence[int], width: int, counts: Sequence[int], axis_title: str, count_title: str
) -> dict[str, Any]:
    """Pre-binned counts as bars on a 0..100 axis (the binning is done in Python, next to its table)."""
    return {
        "data": [
            {
                "type": "bar",
                "x": [low + width / 2 for low in lows],
                "width": [width] * len(lows),
                "y": list(counts),
                "marker": {"color": BAR_COLOUR, "line": {"color": "#ffffff", "width": 1}},
            }
        ],
        "layout": {
            "xaxis": {"range": [0, 100], "dtick": width * 2, "title": {"text": axis_title}},
            "yaxis": {"title": {"text": count_title}, "rangemode": "tozero"},
            "height": 300,
        },
    }


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]]) -> dict[str, Any]:
    """Mean scores of groups (rows) by behaviour (columns), 0..100, with the value written in each cell."""
    z = [_round(row, 0) for row in values]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": [label(c) for c in columns],
                "y": [label(r) for r in rows],
                "z": z,
                "zmin": 0,
                "zmax": 100,
                "colorscale": HEATMAP_SCALE,
                "texttemplate": "%{z}",
                "hoverongaps": False,
            }
        ],
        "layout": {
            "yaxis": {"autorange": "reversed", "automargin": True, "type": "category"},
            "xaxis": {"type": "category", "automargin": True},
            "height": 120 + 36 * len(rows),
        },
    }


def embed(figure: dict[str, Any]) -> Markup:
    """The figure as JSON that cannot close its <script> element (no '<', '>' or '&' left raw)."""
    payload = orjson.dumps(figure).decode("utf-8")
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(payload)  # noqa: S704 - every character that could end the script is escaped above
