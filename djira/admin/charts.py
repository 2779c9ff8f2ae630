"""Server-rendered SVG charts: no chart library, nothing to load, themed by admin CSS."""

from __future__ import annotations

from typing import Any

WIDTH = 600
HEIGHT = 80


def bars(series: list[int]) -> dict[str, Any]:
    """Bar geometry for an events-per-second series (oldest first) in a WIDTH x HEIGHT box."""
    peak = max(series, default=0) or 1
    step = WIDTH / max(1, len(series))
    out = []
    for i, value in enumerate(series):
        height = round(HEIGHT * value / peak, 1)
        out.append(
            {
                "x": round(i * step, 1),
                "y": round(HEIGHT - height, 1),
                "w": max(0.5, round(step - 1, 1)),
                "h": height,
                "value": value,
                "ago": len(series) - 1 - i,
            }
        )
    return {"bars": out, "width": WIDTH, "height": HEIGHT, "peak": peak}


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
