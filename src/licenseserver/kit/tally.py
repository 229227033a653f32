"""Counters and histograms kept in this process's memory and turned into Prometheus families only
when /metrics is scraped.

prometheus_client updates a metric under a lock, and with several workers writes each update to
a memory-mapped file: ~6–8 µs per request on our machines (docs/performance.md), for numbers read
once every 15 s. Here an update is a dict lookup and an addition on the event loop's thread.
With several workers each one writes its totals to a file of the shared metrics folder once a
second (`TallyFiles`), and the scrape adds the files up: a scrape may miss at most the last
second of another worker's requests, never lose them.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# Every metric defined in this process, in definition order (what a scrape exports).
DEFINED: list[TallyMetric] = []
Snapshot = dict[str, dict[str, Any]]


class TallyMetric:
    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.series: dict[tuple[str, ...], list[float]] = {}
        if not self.labelnames:  # an unlabelled series is exported from the start, as 0
            self.series[()] = self._empty()
        DEFINED.append(self)

    def _values_of(self, labels: tuple[str, ...]) -> list[float]:
        values = self.series.get(labels)
        if values is None:
            if len(labels) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labels}")
            values = self.series[labels] = self._empty()
        return values

    def _empty(self) -> list[float]:
        return [0.0]


class CounterChild:
    __slots__ = ("_values",)

    def __init__(self, values: list[float]) -> None:
        self._values = values

    def inc(self, amount: float = 1) -> None:
        self._values[0] += amount


class TallyCounter(TallyMetric):
    kind = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> None:
        super().__init__(name, documentation, labelnames)
        self._children: dict[tuple[str, ...], CounterChild] = {}

    def labels(self, *values: str) -> CounterChild:
        # One child per label set, made once: a request's update is two dict lookups.
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = CounterChild(self._values_of(values))
        return child

    def inc(self, amount: float = 1) -> None:
        self._values_of(())[0] += amount


class HistogramChild:
    __slots__ = ("_buckets", "_values")

    def __init__(self, buckets: tuple[float, ...], values: list[float]) -> None:
        self._buckets = buckets
        self._values = values  # one count per bucket, one for +Inf, then the sum

    def observe(self, amount: float) -> None:
        self._values[bisect.bisect_left(self._buckets, amount)] += 1
        self._values[-1] += amount


class TallyHistogram(TallyMetric):
    kind = "histogram"

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str], buckets: Iterable[float]) -> None:
        super().__init__(name, documentation, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._children: dict[tuple[str, ...], HistogramChild] = {}

    def _empty(self) -> list[float]:
        return [0.0] * (len(self.buckets) + 2)

    def labels(self, *values: str) -> HistogramChild:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = HistogramChild(self.buckets, self._values_of(values))
        return child


def snapshot(metrics: Iterable[TallyMetric] = DEFINED) -> Snapshot:
    """This process's totals, as plain data (what TallyFiles writes)."""
    return {
        metric.name: {
            "kind": metric.kind,
            "documentation": metric.documentation,
            "labelnames": list(metric.labelnames),
            "buckets": list(getattr(metric, "buckets", ())),
            "series": [[list(labels), list(values)] for labels, values in metric.series.items()],
        }
        for metric in metrics
    }


def merged(snapshots: Iterable[Snapshot]) -> Snapshot:
    """Several processes' totals added up, series by series."""
    total: Snapshot = {}
    for one in snapshots:
        for name, metric in one.items():
            into = total.setdefault(name, {**metric, "series": []})
            sums = {tuple(labels): values for labels, values in into["series"]}
            for labels, values in metric["series"]:
                known = sums.get(tuple(labels))
                if known is None:
                    sums[tuple(labels)] = list(values)
                else:
                    sums[tuple(labels)] = [a + b for a, b in zip(known, values, strict=True)]
            into["series"] = [[list(labels), values] for labels, values in sums.items()]
    return total


def families(data: Snapshot) -> Iterator[Metric]:
    """Prometheus metric families of a snapshot (histogram buckets made cumulative)."""
    for name, metric in data.items():
        labelnames = metric["labelnames"]
        if metric["kind"] == "counter":
            counter = CounterMetricFamily(name, metric["documentation"], labels=labelnames)
            for labels, values in metric["series"]:
                counter.add_metric(labels, values[0])
            yield counter
            continue
        histogram = HistogramMetricFamily(name, metric["documentation"], labels=labelnames)
        bounds = [*(repr(float(bound)) for bound in metric["buckets"]), "+Inf"]
        for labels, values in metric["series"]:
            cumulative, running = [], 0.0
            for bound, count in zip(bounds, values[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            histogram.add_metric(labels, cumulative, values[-1])
        yield histogram


class SnapshotCollector(Collector):
    """A prometheus_client collector over whatever totals `read` returns at scrape time."""

    def __init__(self, read: Any) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return families(self._read())


class TallyFiles:
    """One JSON file of totals per worker in the shared metrics folder."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        # pid and a random part: a later process that gets the same pid starts a file of its own.
        self.own = self.folder / f"tally-{os.getpid()}-{os.urandom(4).hex()}.json"

    def write(self) -> None:
        """This process's totals, replaced atomically so a scrape never reads half a file."""
        partial = self.own.with_suffix(".partial")
        partial.write_text(json.dumps(snapshot()))
        partial.replace(self.own)

    def read_all(self) -> Snapshot:
        """Every worker's last written totals, this process's current ones instead of its file."""
        others = []
        for path in sorted(self.folder.glob("tally-*.json")):
            if path == self.own:
                continue
            try:
                others.append(json.loads(path.read_text()))
            except (OSError, ValueError):  # a worker's file vanished between listing and reading
                continue
        return merged([*others, snapshot()])
