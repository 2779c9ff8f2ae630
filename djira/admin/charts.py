"""Server-rendered SVG charts: no chart library, nothing to load, themed by admin CSS."""

from __future__ import annotations

import math
from typing import Any

WIDTH = 800
HEIGHT = 150
#: Room for the axes' labels and titles, in viewBox units: left, right, top, bottom.
MARGIN = (52, 12, 10, 36)
#: Seconds the events chart spans; the x axis is labelled every TICK_SECONDS.
WINDOW = 120
TICK_SECONDS = 30


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def bars(series: list[int], window: int = WINDOW) -> dict[str, Any]:
    """Bars and axes for an events-per-second series (oldest first, newest = now).

    The x axis always spans ``window`` seconds, so it stays put while the series fills up;
    the y axis goes up to a round number at or above the peak, with a middle tick.
    """
    left, right, top, bottom = MARGIN
    plot_w, plot_h = WIDTH - left - right, HEIGHT - top - bottom
    series = series[-window:]
    peak = max(series, default=0)
    scale = nice_ceiling(peak)
    step = plot_w / window
    out = []
    for i, value in enumerate(series):
        ago = len(series) - 1 - i
        height = round(plot_h * value / scale, 1)
        out.append(
            {
                "x": round(left + (window - 1 - ago) * step, 1),
                "y": round(top + plot_h - height, 1),
                "w": max(0.5, round(step - 1, 1)),
                "h": height,
                "value": value,
                "ago": ago,
            }
        )
    # A tick at "n s ago" sits on the right edge of that second's slot: "now" ends the plot.
    x_ticks = [
        {
            "x": round(left + (window - ago) * step, 1),
            "label": "now" if ago == 0 else f"-{ago} s",
            "anchor": "end" if ago == 0 else "start" if ago == window else "middle",
        }
        for ago in range(window - window % TICK_SECONDS, -1, -TICK_SECONDS)
    ]
    y_values = [0, scale] if scale < 2 or scale % 2 else [0, scale // 2, scale]
    y_ticks = [
        {"y": round(top + plot_h - plot_h * v / scale, 1), "label": str(v)} for v in y_values
    ]
    return {
        "bars": out,
        "width": WIDTH,
        "height": HEIGHT,
        "peak": peak,
        "scale": scale,
        "plot": {"left": left, "right": WIDTH - right, "top": top, "bottom": top + plot_h},
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "x_title": {"x": left + plot_w / 2, "y": HEIGHT - 4},
        "y_title": {"x": 14, "y": top + plot_h / 2},
    }


def latency_rows(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Routes with bar widths (percent of the slowest p99) for the latency chart."""
    slowest = max((r["p99"] for r in routes), default=0.0) or 1.0
    return [
        {
            **r,
            "p50_pct": round(100 * r["p50"] / slowest, 1),
            "p99_pct": round(100 * r["p99"] / slowest, 1),
        }
        for r in routes
    ]
