"""One bench run: make sure the live index and its ONNX encoder exist, measure every section
beside its baseline, and write bench.json and bench.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from ketaqa.config import Settings
from ketaqa.evaluation.dataset import load_questions
from ketaqa.files import write_atomic
from ketaqa.pipeline.indexing.drugs import ensure_drug_table
from ketaqa.pipeline.indexing.embedding import Encoder
from ketaqa.pipeline.indexing.english import ensure_english_table
from ketaqa.pipeline.indexing.fast_encoder import (
    ensure_fast_encoder,
    fast_encoder_status,
    query_encoder,
)
from ketaqa.pipeline.indexing.index import index_status, load_index, open_index
from ketaqa.progress import Progress, quiet
from ketaqa.tools.bench.build import bench_build
from ketaqa.tools.bench.cold import bench_cold, bench_memory
from ketaqa.tools.bench.figures import BASELINE, Plan, timed
from ketaqa.tools.bench.report import render_markdown
from ketaqa.tools.bench.scale import bench_scale
from ketaqa.tools.bench.warm import bench_warm

VERSIONS = ("torch", "onnxruntime", "faiss-cpu", "rank-bm25", "sentence-transformers")


def bench_questions(path: Path, limit: int | None) -> list[str]:
    """The curated questions' text, the first `limit` of them (None: all)."""
    return [item.question for item in load_questions(path)][:limit]


def run_bench(
    settings: Settings,
    plan: Plan,
    questions: list[str],
    progress: Progress = quiet,
    skip_scale: bool = False,
) -> dict:
    report: dict = {"meta": _meta(settings, plan, questions)}
    # the live index, built by the torch encoder when missing or stale (as `ketaqa index` does)
    torch_encoder = Encoder()
    _, model_load = timed(lambda: torch_encoder.encode(["warm up"]))
    status = index_status(settings)
    if status != "ok":
        progress(f"index {status}; building it first")
        open_index(settings, torch_encoder, rebuild=True, progress=progress)
    export_seconds: float | None = None
    if fast_encoder_status(settings.index_dir) != "ok":
        ok, export_seconds = timed(lambda: ensure_fast_encoder(settings.index_dir, progress))
        if not ok:
            export_seconds = None
    ensure_english_table(settings.index_dir, progress)
    ensure_drug_table(settings.index_dir, progress)
    index = load_index(settings)
    encoder = query_encoder(settings.index_dir)
    report["meta"]["query_encoder"] = getattr(encoder, "kind", "sentence-transformers")
    report["meta"]["passages"] = len(index.passages)

    progress("build: indexing the corpus in a temporary folder")
    report["build"] = bench_build(settings, plan, torch_encoder, model_load, export_seconds)
    progress(f"warm queries: {len(questions)} questions x {plan.repeats}")
    report["warm_query"] = bench_warm(settings, index, encoder, torch_encoder, questions, plan)
    progress(f"cold ask: {plan.cold_runs} new process(es) each")
    report["cold_ask"] = bench_cold(settings, index, questions[0], plan)
    progress("memory: peak RSS of a process answering the questions")
    report["memory"] = bench_memory(settings, index, questions, plan)
    if skip_scale:
        report["scale"] = {"skipped": True}
    else:
        report["scale"] = bench_scale(settings, index, encoder, questions, plan, progress)
    report["meta"]["load_average_end"] = list(os.getloadavg())
    return report


def write_report(report: dict, out: Path, progress: Progress = quiet) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "bench.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "bench.md", render_markdown(report))
    progress(f"bench report written to {out}/bench.md and bench.json")


def _meta(settings: Settings, plan: Plan, questions: list[str]) -> dict:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "plan": asdict(plan),
        "questions": len(questions),
        "baseline": BASELINE,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "versions": {n: version(n) for n in VERSIONS},
        "index_dir": str(settings.index_dir),
        "retrieval": settings.retrieval.to_dict(),
    }
