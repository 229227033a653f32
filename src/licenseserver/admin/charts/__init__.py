"""Charts for the panel as server-rendered SVG (no script, no CDN): columns, stacked columns and
a line over time, readable without colour (values and names written out, series in patterns).

`svg.py` holds the shared pieces; `bars.py` and `lines.py` the chart kinds; `reports.py` turns the
figures of domain/reports into the panel's charts."""
