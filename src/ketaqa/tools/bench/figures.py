"""What every section shares: the plan, one measured figure beside its baseline, and timers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ketaqa.config import DenseIndexSettings

T = TypeVar("T")

SEED = 20240601
TOP_K = 5
BASELINE = "rank-bm25 BM25Okapi over the same passages, str.split tokenisation"


@dataclass(frozen=True)
class Plan:
    """How much to measure: `quick` for tests and smoke runs, `full` for the report."""

    name: str
    questions: int | None  # curated questions used (None: all)
    repeats: int  # warm passes over the questions
    cold_runs: int
    corpus_chars: int | None  # the build section indexes a cut of the corpus (None: all of it)
    scale_sizes: tuple[int, ...]
    ann_min_passages: int  # the scale section's `DenseIndexSettings.approximate_from`
    scale_queries: int

    @classmethod
    def full(cls) -> Plan:
        approximate_from = DenseIndexSettings().approximate_from
        return cls("full", None, 3, 5, None, (10_000, 100_000), approximate_from, 50)

    @classmethod
    def quick(cls) -> Plan:
        return cls("quick", 12, 1, 1, 8000, (1_000, 3_000), 2_000, 8)


def figure(value: float, baseline: float, unit: str, note: str = "") -> dict:
    """One measured number beside its baseline, and their ratio (value / baseline)."""
    return {
        "value": _round(value),
        "baseline": _round(baseline),
        "ratio": _round(value / baseline) if baseline > 0 else None,
        "unit": unit,
        "note": note,
    }


def _round(x: float) -> float:
    return float(f"{float(x):.4g}")


def percentiles(seconds: Iterable[float]) -> dict[str, float]:
    """p50, p95 and mean, in milliseconds."""
    ms = np.asarray(list(seconds), dtype=np.float64) * 1000.0
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "mean": float(ms.mean()),
    }


class Stopwatch:
    """Named lists of durations: `with watch("stage"): ...`."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def __call__(self, name: str) -> _Lap:
        return _Lap(self.times.setdefault(name, []))


class _Lap:
    def __init__(self, sink: list[float]):
        self.sink = sink

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.sink.append(time.perf_counter() - self.start)


class Timer:
    """`with Timer() as t: ...` then `t.seconds`."""

    seconds = 0.0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """The result of `fn()` and the seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
