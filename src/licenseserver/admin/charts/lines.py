"""A line over time (sessions started per day): one point per period, the date named under every
n-th point counted from the newest, its value written above it, and above the highest point.

Each point is a `<circle class="point">` with `data-value` and a `<title>` for the pointer; the
description lists every figure for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from licenseserver.admin.charts.svg import (
    Scale,
    chart_number,
    element,
    empty_chart,
    fill_of,
    frame,
    joined,
    text,
    value_axis,
)

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 52, 20, 24, 40


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the period, e.g. "28.11."
    value: int


def line_chart(chart_id: str, title: str, points: Sequence[Point], label_every: int = 7) -> Markup:
    if not points or not any(point.value for point in points):
        return empty_chart(chart_id, title, WIDTH, HEIGHT // 2)
    scale = Scale.for_peak(max(point.value for point in points))
    bottom = HEIGHT - BOTTOM
    span = WIDTH - LEFT - RIGHT
    step = span / max(1, len(points) - 1)
    peak = max(range(len(points)), key=lambda i: (points[i].value, i))

    def at(index: int) -> tuple[float, float]:
        return LEFT + index * step, bottom - scale.length(points[index].value, bottom - TOP)

    colour = fill_of(0).colour
    coordinates = " ".join("{:.1f},{:.1f}".format(*at(i)) for i in range(len(points)))
    parts = [
        value_axis(scale, LEFT, WIDTH - RIGHT, TOP, bottom),
        element("polyline", points=coordinates, fill="none", stroke=colour, stroke_width=2),
    ]
    for index, point in enumerate(points):
        x, y = at(index)
        tooltip = element("title", f"{point.label}: {chart_number(point.value)}")
        parts.append(
            element(
                "circle",
                tooltip,
                class_="point",
                cx=x,
                cy=y,
                r=3,
                fill=colour,
                data_label=point.label,
                data_value=point.value,
            )
        )
        named = (len(points) - 1 - index) % label_every == 0
        if named:
            parts.append(element("line", x1=x, x2=x, y1=bottom, y2=bottom + 4, stroke="#777"))
            parts.append(text(x, bottom + 16, point.label, class_="category"))
        if named or index == peak:
            parts.append(text(x, y - 7, chart_number(point.value), class_="value"))
    figures = "; ".join(f"{point.label}: {chart_number(point.value)}" for point in points)
    return frame(chart_id, title, f"{title}. {figures}.", WIDTH, HEIGHT, joined(parts))
