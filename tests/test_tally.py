"""In-process metrics (kit/tally.py): what a scrape exports equals what was counted, in one
process and added up over several workers' files."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from licenseserver.kit.tally import SnapshotCollector, TallyCounter, TallyFiles, TallyHistogram, merged, snapshot


def samples(metrics: list[TallyCounter | TallyHistogram]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot(metrics)))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counters_and_histograms_export_what_was_counted() -> None:
    requests = TallyCounter("t_requests_total", "requests", ["route"])
    plain = TallyCounter("t_plain_total", "unlabelled")
    latency = TallyHistogram("t_latency_seconds", "latency", ["route"], buckets=(0.01, 0.1, 1.0))
    for seconds in (0.005, 0.01, 0.05, 2.0):
        requests.labels("/a").inc()
        latency.labels("/a").observe(seconds)
    requests.labels("/b").inc(3)
    found = samples([requests, plain, latency])
    assert found[("t_requests_total", (("route", "/a"),))] == 4
    assert found[("t_requests_total", (("route", "/b"),))] == 3
    assert found[("t_plain_total", ())] == 0  # exported before its first count
    # Buckets are cumulative and "less than or equal": 0.01 falls into le=0.01.
    assert found[("t_latency_seconds_bucket", (("le", "0.01"), ("route", "/a")))] == 2
    assert found[("t_latency_seconds_bucket", (("le", "0.1"), ("route", "/a")))] == 3
    assert found[("t_latency_seconds_bucket", (("le", "1.0"), ("route", "/a")))] == 3
    assert found[("t_latency_seconds_bucket", (("le", "+Inf"), ("route", "/a")))] == 4
    assert found[("t_latency_seconds_count", (("route", "/a"),))] == 4
    assert abs(found[("t_latency_seconds_sum", (("route", "/a"),))] - 2.065) < 1e-9


def test_workers_files_add_up_with_this_process_counted_live(tmp_path: Path) -> None:
    counter = TallyCounter("t_worker_total", "per worker", ["route"])
    counter.labels("/a").inc(2)
    other_worker = {"t_worker_total": {**snapshot([counter])["t_worker_total"]}}
    other_worker["t_worker_total"]["series"] = [[["/a"], [5.0]], [["/b"], [1.0]]]
    (tmp_path / "tally-1-aaaa.json").write_text(json.dumps(other_worker))
    (tmp_path / "tally-2-bbbb.json").write_text("{half a fi")  # being replaced: skipped
    files = TallyFiles(str(tmp_path))
    files.write()
    counter.labels("/a").inc()  # after the write: the scrape still counts it, from memory
    total = merged([files.read_all()])  # read_all already merged; merging one snapshot changes nothing
    series = {tuple(labels): values for labels, values in total["t_worker_total"]["series"]}
    assert series[("/b",)] == [1.0]
    # The process's own file is not read back: its live totals (3) stand in for it.
    assert series[("/a",)][0] >= 5.0 + 3
