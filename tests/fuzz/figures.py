"""Hooks on the fuzzed schema: seeded values for generated requests to hit, and the run's figures."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, HookContext, Response

from tests.fuzz.seed import Seeded

# Fields whose generated value is replaced, now and then, by one the seeded database knows.
SEEDED_FIELDS = {
    "license_key": "license_keys",
    "hardware_hash": "hardware_hashes",
    "session_token": "session_tokens",
    "version": "versions",
    "app_version": "versions",
    "current_version": "versions",
}


@dataclass
class Figures:
    """Requests sent per (backend, operation, phase), for the summary a full run prints."""

    calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    # (backend, the link followed or "start", status) of every stateful step
    stateful_steps: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def cases(self, backend: str, operation: str) -> int:
        return sum(n for (b, op, _phase), n in self.calls.items() if b == backend and op == operation)


FIGURES = Figures()


def _with_seeded_values(case: Case[Any], seeded: Seeded, picks: dict[str, Any]) -> Case[Any]:
    if isinstance(case.body, dict):
        body = dict(case.body)
        for name, value in picks.items():
            if name in body:
                body[name] = value
        case.body = body
    if case.path_parameters and "license_key" in case.path_parameters and "license_key" in picks:
        case.path_parameters = {**case.path_parameters, "license_key": picks["license_key"]}
    return case


def install_hooks(schema: schemathesis.BaseSchema, seeded: Seeded, backend: str) -> None:
    def picks() -> st.SearchStrategy[dict[str, Any]]:
        # A known license key, and for each other field either the generated value or a known one.
        return st.fixed_dictionaries(
            {"license_key": st.sampled_from(seeded.license_keys)},
            optional={
                name: st.sampled_from(getattr(seeded, source))
                for name, source in SEEDED_FIELDS.items()
                if name != "license_key"
            },
        )

    def flatmap_case(_ctx: HookContext, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
        original_body = case.body
        original_path = case.path_parameters

        def apply(chosen: dict[str, Any]) -> Case[Any]:
            case.body = original_body
            case.path_parameters = original_path
            return _with_seeded_values(case, seeded, chosen)

        return st.one_of(st.just(case), picks().map(apply))

    def after_call(_ctx: HookContext, case: Case[Any], response: Response) -> None:
        meta = case.meta
        phase = str(meta.phase.name) if meta is not None else "explicit"
        FIGURES.calls[(backend, case.operation.label, phase)] += 1
        FIGURES.statuses[(backend, case.operation.label, response.status_code)] += 1

    schema.hook("flatmap_case")(flatmap_case)
    schema.hook("after_call")(after_call)


def report() -> list[str]:
    lines = ["", "License API fuzzing figures (requests sent)"]
    backends = sorted({b for b, _op, _phase in FIGURES.calls})
    operations = sorted({op for _b, op, _phase in FIGURES.calls})
    phases = sorted({phase for _b, _op, phase in FIGURES.calls})
    for backend in backends:
        fewest = min(FIGURES.cases(backend, operation) for operation in operations)
        lines.append(f"  {backend}: {len(operations)} operations, at least {fewest} requests each")
        for operation in operations:
            by_phase = ", ".join(
                f"{phase} {FIGURES.calls[(backend, operation, phase)]}"
                for phase in phases
                if FIGURES.calls[(backend, operation, phase)]
            )
            statuses = ", ".join(
                f"{status}×{n}"
                for (b, op, status), n in sorted(FIGURES.statuses.items())
                if b == backend and op == operation
            )
            lines.append(f"    {operation}: {FIGURES.cases(backend, operation)} ({by_phase}) statuses {statuses}")
    for backend in sorted({b for b, _via, _status in FIGURES.stateful_steps}):
        steps = {key: n for key, n in FIGURES.stateful_steps.items() if key[0] == backend}
        linked = sum(n for (_b, via, _s), n in steps.items() if via != "start")
        lines.append(f"  {backend} stateful: {sum(steps.values())} steps, {linked} along links")
        for (_b, via, status), n in sorted(steps.items()):
            if via != "start":
                lines.append(f"    {via} → {status}: {n}")
    lines.append(f"  time {time.monotonic() - FIGURES.started:.0f} s")
    return lines
