"""Column charts: one value per category (licenses by state, expiring per week), and stacked
columns of several series per category (leads by type and status).

Every column carries its value as text above it and its category below it; each column is an
`<rect class="bar">` with `data-value`, and a `<title>` for the pointer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from licenseserver.admin.charts.svg import (
    Scale,
    chart_number,
    element,
    empty_chart,
    frame,
    joined,
    legend,
    paint,
    pattern_defs,
    text,
    value_axis,
)

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 34, 40  # margins: value axis, -, value labels and legend, categories
MIN_LABEL_HEIGHT = 14  # a stacked segment lower than this shows its value in the pointer title only


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    fill: int = 0  # the fill style (admin.charts.svg.FILLS) of this column


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[int]  # one per category


@dataclass(frozen=True, slots=True)
class _Plot:
    """The drawing area and the column slots across it."""

    count: int
    scale: Scale

    @property
    def bottom(self) -> float:
        return HEIGHT - BOTTOM

    @property
    def height(self) -> float:
        return self.bottom - TOP

    @property
    def slot(self) -> float:
        return (WIDTH - LEFT - RIGHT) / self.count

    @property
    def bar_width(self) -> float:
        return min(56.0, self.slot * 0.7)

    def bar_x(self, index: int) -> float:
        return LEFT + index * self.slot + (self.slot - self.bar_width) / 2

    def centre(self, index: int) -> float:
        return LEFT + (index + 0.5) * self.slot

    def axis(self) -> Markup:
        return value_axis(self.scale, LEFT, WIDTH - RIGHT, TOP, self.bottom)

    def category(self, index: int, label: str) -> Markup:
        return text(self.centre(index), self.bottom + 16, label, size=11, class_="category")

    def bar(self, index: int, base: float, height: float, fill: str, label: str, value: int) -> Markup:
        """A column (or a stacked segment) standing on `base`, named and valued for its tooltip
        and for tests (data-label, data-value)."""
        return element(
            "rect",
            element("title", f"{label}: {chart_number(value)}"),
            class_="bar",
            x=self.bar_x(index),
            y=base - height,
            width=self.bar_width,
            height=height,
            fill=fill,
            stroke="#444",
            stroke_width=0.5,
            data_label=label,
            data_value=value,
        )


def _description(title: str, labels: Sequence[str], values: Sequence[int]) -> str:
    figures = "; ".join(f"{label}: {chart_number(value)}" for label, value in zip(labels, values, strict=True))
    return f"{title}. {figures}."


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], label_every: int = 1) -> Markup:
    """One column per bar, its value above it. With `label_every` > 1 only every n-th category
    is named (counted from the last, so the newest period always is); values are shown on all."""
    if not bars or not any(bar.value for bar in bars):
        return empty_chart(chart_id, title, WIDTH, HEIGHT // 2)
    plot = _Plot(len(bars), Scale.for_peak(max(bar.value for bar in bars)))
    parts = [pattern_defs(chart_id, max(bar.fill for bar in bars) + 1), plot.axis()]
    for index, bar in enumerate(bars):
        height = plot.scale.length(bar.value, plot.height)
        parts.append(plot.bar(index, plot.bottom, height, paint(chart_id, bar.fill), bar.label, bar.value))
        parts.append(text(plot.centre(index), plot.bottom - height - 4, chart_number(bar.value), class_="value"))
        if (len(bars) - 1 - index) % label_every == 0:
            parts.append(plot.category(index, bar.label))
    desc = _description(title, [bar.label for bar in bars], [bar.value for bar in bars])
    return frame(chart_id, title, desc, WIDTH, HEIGHT, joined(parts))


def stacked_bar_chart(chart_id: str, title: str, categories: Sequence[str], series: Sequence[Series]) -> Markup:
    """One column per category, stacked from the series (the first at the bottom), each segment
    in its series' pattern with its value inside; the column's total above it; a legend on top."""
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return empty_chart(chart_id, title, WIDTH, HEIGHT // 2)
    plot = _Plot(len(categories), Scale.for_peak(max(totals)))
    parts = [pattern_defs(chart_id, len(series)), plot.axis(), legend(chart_id, [s.name for s in series], LEFT, 16)]
    for index, category in enumerate(categories):
        base = plot.bottom
        for number, one in enumerate(series):
            value = one.values[index]
            height = plot.scale.length(value, plot.height)
            if value == 0:
                continue
            parts.append(plot.bar(index, base, height, paint(chart_id, number), f"{category}, {one.name}", value))
            if height >= MIN_LABEL_HEIGHT:
                # On a white box, so the value reads on any pattern.
                label = chart_number(value)
                box_width = 8 + 6.5 * len(label)
                centre, middle = plot.centre(index), base - height / 2
                parts.append(
                    element("rect", x=centre - box_width / 2, y=middle - 7, width=box_width, height=13, fill="#fff")
                )
                parts.append(text(centre, middle + 4, label, size=10, class_="segment-value"))
            base -= height
        parts.append(text(plot.centre(index), base - 4, chart_number(totals[index]), class_="value"))
        parts.append(plot.category(index, category))
    figures = "; ".join(
        f"{category}: " + ", ".join(f"{s.name} {chart_number(s.values[i])}" for s in series)
        for i, category in enumerate(categories)
    )
    return frame(chart_id, title, f"{title}. {figures}.", WIDTH, HEIGHT, joined(parts))
