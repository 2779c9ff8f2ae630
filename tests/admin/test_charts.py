"""The traffic chart's geometry: a fixed two-minute time axis and a rounded count axis."""

from __future__ import annotations

import pytest

from djira.admin import charts


@pytest.mark.parametrize(
    ("peak", "scale"), [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (430, 500)]
)
def test_the_count_axis_ends_on_a_round_number_at_or_above_the_peak(peak, scale):
    assert charts.nice_ceiling(peak) == scale


def test_the_time_axis_spans_the_window_whatever_the_series_length():
    chart = charts.bars([1, 2, 3])
    labels = [tick["label"] for tick in chart["x_ticks"]]
    assert labels == ["-120 s", "-90 s", "-60 s", "-30 s", "now"]
    assert chart["x_ticks"][0]["x"] == chart["plot"]["left"]
    assert chart["x_ticks"][-1]["x"] == chart["plot"]["right"]
    # The newest second is the last slot, right against "now".
    newest = chart["bars"][-1]
    assert newest["ago"] == 0
    assert newest["x"] + newest["w"] <= chart["plot"]["right"]


def test_bars_and_count_ticks_share_a_scale():
    chart = charts.bars([0, 4, 10])
    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "5", "10"]
    top = chart["y_ticks"][-1]["y"]
    tallest = max(chart["bars"], key=lambda bar: bar["value"])
    assert tallest["y"] == top  # 10 events reach the "10" tick
    assert chart["bars"][0]["h"] == 0
