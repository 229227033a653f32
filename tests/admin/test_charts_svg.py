"""The panel's SVG charts on their own: well-formed XML, columns and points drawn to scale, every
value and category written out, German numbers, escaped texts, and "Keine Daten" for nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from licenseserver.admin.charts.bars import Bar, Series, bar_chart, stacked_bar_chart
from licenseserver.admin.charts.lines import Point, line_chart
from licenseserver.admin.charts.svg import NO_DATA, Scale, chart_number

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: Markup) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element, css_class: str | None = None) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text") if css_class is None or t.get("class") == css_class]


def bars_of(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_columns_are_as_high_as_their_values_and_carry_value_and_name() -> None:
    root = parsed(bar_chart("c", "Lizenzen nach Status", [Bar("Aktiv", 40), Bar("Abgelaufen", 10, 1), Bar("X", 0)]))
    heights = {r.get("data-label"): float(r.get("height", "")) for r in bars_of(root)}
    assert heights["Aktiv"] == pytest.approx(4 * heights["Abgelaufen"], rel=0.02)
    assert heights["X"] == 0
    assert texts(root, "value") == ["40", "10", "0"]
    assert texts(root, "category") == ["Aktiv", "Abgelaufen", "X"]


def test_a_chart_is_an_image_named_by_its_title_and_described_in_words() -> None:
    root = parsed(bar_chart("c", "Neue Aktivierungen", [Bar("KW 48", 12691), Bar("KW 49", 3)]))
    assert root.get("role") == "img" and root.get("aria-label") == "Neue Aktivierungen"
    assert root.findtext(f"{SVG}title") == "Neue Aktivierungen"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.get("id") == root.get("aria-describedby")
    assert desc.text == "Neue Aktivierungen. KW 48: 12.691; KW 49: 3."
    assert "12.691" in texts(root, "value")


def test_chart_numbers_group_thousands_with_a_dot() -> None:
    assert [chart_number(n) for n in (0, 999, 1000, 12691, 1234567)] == ["0", "999", "1.000", "12.691", "1.234.567"]


@pytest.mark.parametrize(
    "chart",
    [
        lambda: bar_chart("c", "Leer", []),
        lambda: bar_chart("c", "Leer", [Bar("KW 1", 0), Bar("KW 2", 0)]),
        lambda: stacked_bar_chart("c", "Leer", ["A"], [Series("x", [0]), Series("y", [0])]),
        lambda: stacked_bar_chart("c", "Leer", [], []),
        lambda: line_chart("c", "Leer", [Point("01.12.", 0)] * 30),
        lambda: line_chart("c", "Leer", []),
    ],
)
def test_nothing_to_draw_says_no_data(chart: object) -> None:
    root = parsed(chart())  # type: ignore[operator]
    assert texts(root) == [NO_DATA]
    assert root.get("aria-label") == "Leer" and not bars_of(root)


def test_texts_are_escaped() -> None:
    hostile = '<script>alert("x")</script> & "Co"'
    markup = bar_chart("c", hostile, [Bar(hostile, 1)])
    assert "<script>" not in str(markup)
    root = parsed(markup)
    assert root.get("aria-label") == hostile and hostile in texts(root, "category")


def test_stacked_segments_add_up_and_series_differ_by_pattern_with_a_legend() -> None:
    series = [Series("Kunde geworden", [2, 0]), Series("Offen", [6, 4])]
    root = parsed(stacked_bar_chart("leads", "Leads", ["Universität", "Behörde"], series))
    segments = {r.get("data-label"): float(r.get("height", "")) for r in bars_of(root)}
    assert segments["Universität, Offen"] == pytest.approx(3 * segments["Universität, Kunde geworden"], rel=0.02)
    assert segments["Behörde, Offen"] == pytest.approx(2 * segments["Universität, Kunde geworden"], rel=0.02)
    assert "Behörde, Kunde geworden" not in segments  # a zero draws nothing
    assert texts(root, "value") == ["8", "4"]  # the totals above the columns
    fills = {r.get("data-label", "").split(", ")[1]: r.get("fill") for r in bars_of(root)}
    assert fills["Offen"] == "url(#leads-fill-1)" and fills["Kunde geworden"] != fills["Offen"]
    assert root.find(f".//{SVG}pattern[@id='leads-fill-1']") is not None
    legend = root.find(f".//{SVG}g[@class='legend']")
    assert legend is not None and [t.text for t in legend.iter(f"{SVG}text")] == ["Kunde geworden", "Offen"]


def test_line_points_follow_their_values_and_name_every_seventh_day_from_the_last() -> None:
    points = [Point(f"{day:02d}.11.", day % 4) for day in range(1, 31)]
    root = parsed(line_chart("s", "Sitzungen", points))
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert [int(c.get("data-value", "")) for c in circles] == [p.value for p in points]
    base = float(circles[3].get("cy", ""))  # day 4: value 0
    rise = {day: base - float(circles[day - 1].get("cy", "")) for day in (1, 2, 3)}
    assert rise[2] == pytest.approx(2 * rise[1], abs=0.2) and rise[3] == pytest.approx(3 * rise[1], abs=0.2)
    assert texts(root, "category") == ["02.11.", "09.11.", "16.11.", "23.11.", "30.11."]
    assert root.find(f"{SVG}polyline") is not None


def test_the_value_axis_ends_on_a_round_step_above_the_peak() -> None:
    assert Scale.for_peak(7) == Scale(8, 2)
    assert Scale.for_peak(100) == Scale(100, 20)
    assert Scale.for_peak(12691).top >= 12691
    assert Scale.for_peak(0) == Scale(1, 1)
