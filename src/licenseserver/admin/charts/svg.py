"""The pieces every chart is drawn from: escaped SVG elements, numbers in the page's language, the axis scale,
the fill styles that tell series apart without colour, and the frame with its accessible name.

Charts are SVG markup strings rendered on the server: no script, no CDN, nothing the panel's
Content-Security-Policy would refuse (presentation attributes only, no `style`). Every text and
attribute value passes through markupsafe's escape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from licenseserver.admin.i18n import N_, format_number, gettext

FONT = "system-ui, sans-serif"
TEXT_COLOUR = "#333"
AXIS_COLOUR = "#777"
GRID_COLOUR = "#ddd"
NO_DATA = N_("Keine Daten")


def chart_number(value: int) -> str:
    """12691 -> "12.691" for German staff, "12,691" for English (admin/i18n.py)."""
    return format_number(value)


def element(name: str, content: str = "", **attrs: object) -> Markup:
    """One SVG element; attribute names with `_` become `-` (font_size -> font-size), a trailing
    `_` is dropped (class_ -> class), None leaves an attribute out. `content` is escaped unless
    it is Markup already (elements made here are)."""
    parts = [name]
    for key, value in attrs.items():
        if value is None:
            continue
        attr = key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = f"{value:.1f}".removesuffix(".0")
        parts.append(f'{attr}="{escape(value)}"')
    opening = " ".join(parts)
    inner = escape(content)
    # Built from escaped parts only: every attribute value and the content went through escape().
    return Markup(f"<{opening}>{inner}</{name}>" if inner else f"<{opening}/>")  # noqa: S704  # nosec B704


def text(x: float, y: float, label: str, anchor: str = "middle", size: int = 11, **attrs: object) -> Markup:
    return element("text", label, x=x, y=y, text_anchor=anchor, font_size=size, fill=TEXT_COLOUR, **attrs)


def joined(parts: list[Markup]) -> Markup:
    return Markup("").join(parts)


@dataclass(frozen=True, slots=True)
class Scale:
    """The value axis: from 0 to `top` in steps of `step` (1, 2 or 5 times a power of ten)."""

    top: int
    step: int

    @classmethod
    def for_peak(cls, peak: int, max_ticks: int = 5) -> Scale:
        if peak <= 0:
            return cls(1, 1)
        raw = peak / max_ticks
        power = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
        step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
        return cls(math.ceil(peak / step) * step, step)

    @property
    def ticks(self) -> list[int]:
        return list(range(0, self.top + 1, self.step))

    def length(self, value: int, full: float) -> float:
        """The drawn length of `value` on an axis `full` units long."""
        return full * value / self.top


@dataclass(frozen=True, slots=True)
class Fill:
    """A series' look: a colour and a pattern, so that print-outs and colour-blind readers still
    tell the series apart (the legend shows the same swatch)."""

    colour: str
    pattern: str  # solid, hatch, dots, cross, lines


FILLS = (
    Fill("#1f6feb", "solid"),
    Fill("#b45309", "hatch"),
    Fill("#047857", "dots"),
    Fill("#6b21a8", "cross"),
    Fill("#4b5563", "lines"),
)


def fill_of(index: int) -> Fill:
    return FILLS[index % len(FILLS)]


def paint(chart_id: str, index: int) -> str:
    """The `fill` attribute value for series `index` of the chart."""
    fill = fill_of(index)
    return fill.colour if fill.pattern == "solid" else f"url(#{chart_id}-fill-{index})"


def pattern_defs(chart_id: str, count: int) -> Markup:
    """<pattern> definitions for the first `count` fills (ids prefixed by the chart, as several
    charts share one HTML document)."""
    patterns = []
    for index in range(count):
        fill = fill_of(index)
        if fill.pattern == "solid":
            continue
        marks = {
            "hatch": element("path", d="M0 8 L8 0 M-2 2 L2 -2 M6 10 L10 6", stroke=fill.colour, stroke_width=2),
            "dots": element("circle", cx=4, cy=4, r=1.8, fill=fill.colour),
            "cross": element("path", d="M0 4 H8 M4 0 V8", stroke=fill.colour, stroke_width=1.5),
            "lines": element("path", d="M0 2 H8 M0 6 H8", stroke=fill.colour, stroke_width=1.5),
        }[fill.pattern]
        background = element("rect", width=8, height=8, fill="#fff")
        patterns.append(
            element(
                "pattern",
                background + marks,
                id=f"{chart_id}-fill-{index}",
                width=8,
                height=8,
                patternUnits="userSpaceOnUse",
            )
        )
    return element("defs", joined(patterns)) if patterns else Markup("")


def frame(chart_id: str, title: str, desc: str, width: int, height: int, body: Markup) -> Markup:
    """The chart's <svg>: role img, named by its title, described by `desc` (what it shows, the
    figures in words), scaled to its container by the viewBox."""
    content = element("title", title, id=f"{chart_id}-title") + element("desc", desc, id=f"{chart_id}-desc")
    return element(
        "svg",
        content + body,
        xmlns="http://www.w3.org/2000/svg",
        id=chart_id,
        class_="report-chart",
        viewBox=f"0 0 {width} {height}",
        width="100%",
        role="img",
        aria_label=title,
        aria_describedby=f"{chart_id}-desc",
        font_family=FONT,
    )


def empty_chart(chart_id: str, title: str, width: int = 640, height: int = 120) -> Markup:
    """A chart with nothing to draw: its frame and the words "Keine Daten"."""
    no_data = gettext(NO_DATA)
    body = text(width / 2, height / 2, no_data, size=14, class_="no-data")
    return frame(chart_id, title, f"{title}: {no_data}.", width, height, body)


def value_axis(scale: Scale, left: float, right: float, top: float, bottom: float) -> Markup:
    """Horizontal grid lines with their values on the left, and the base line."""
    parts = []
    for tick in scale.ticks:
        y = bottom - scale.length(tick, bottom - top)
        parts.append(element("line", x1=left, x2=right, y1=y, y2=y, stroke=GRID_COLOUR))
        parts.append(text(left - 6, y + 4, chart_number(tick), anchor="end", size=10))
    parts.append(element("line", x1=left, x2=right, y1=bottom, y2=bottom, stroke=AXIS_COLOUR))
    parts.append(element("line", x1=left, x2=left, y1=top, y2=bottom, stroke=AXIS_COLOUR))
    return joined(parts)


def legend(chart_id: str, names: list[str], x: float, y: float) -> Markup:
    """One swatch (the series' pattern) and name per series, in a row."""
    parts = []
    for index, name in enumerate(names):
        swatch = element("rect", x=x, y=y - 10, width=14, height=14, fill=paint(chart_id, index), stroke=AXIS_COLOUR)
        parts.append(swatch + text(x + 20, y + 1, name, anchor="start"))
        x += 34 + 7 * len(name)
    return element("g", joined(parts), class_="legend")
