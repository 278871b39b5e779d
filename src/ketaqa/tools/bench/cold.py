"""The cold_ask and memory sections: new processes, each timed or measured from the outside.

The children are modules of this package (`baseline`, `fast_ask`, `memory`) run with
`python -m`, beside `python -m ketaqa.apps.cli ask` itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from ketaqa.config import Settings, child_env
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.indexing.index import Index
from ketaqa.tools.bench.figures import Plan, figure

PACKAGE = "ketaqa.tools.bench"


def _child(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"{PACKAGE}.{module}", *args]


def _env(settings: Settings, data_dir: bool = False) -> dict[str, str]:
    """Our offline environment, pointed at the index and corpus being measured."""
    paths = {
        "KETAQA_INDEX_DIR": str(settings.index_dir),
        "KETAQA_CORPUS_DIR": str(settings.corpus_dir),
    }
    if data_dir:
        paths["KETAQA_DATA_DIR"] = str(settings.data_dir)
    return child_env(**paths)


def _run(cmd: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[str, float]:
    """The child's stdout and its wall-clock seconds; a failed child is an error."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise KetaqaError(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return proc.stdout, seconds


def bench_cold(settings: Settings, index: Index, question: str, plan: Plan) -> dict:
    env = _env(settings, data_dir=True)
    commands = {
        "ask": [sys.executable, "-m", "ketaqa.apps.cli", "ask", question],
        "fast_path": _child("fast_ask", question),
        "baseline": _child("baseline", str(index.path / "passages.json")),
    }
    stdin = {"baseline": json.dumps([question])}
    if plan.cold_runs > 1:  # one unmeasured run each: page cache, .pyc files
        for name, cmd in commands.items():
            _run(cmd, env, stdin.get(name))
    runs = {
        name: [_run(cmd, env, stdin.get(name))[1] for _ in range(plan.cold_runs)]
        for name, cmd in commands.items()
    }
    base = runs["baseline"]
    return {
        "runs": plan.cold_runs,
        "question": question,
        "ask_median": figure(
            float(np.median(runs["ask"])),
            float(np.median(base)),
            "s",
            "`python -m ketaqa.apps.cli ask`, new process, index present",
        ),
        "ask_min": figure(min(runs["ask"]), min(base), "s", "fastest run"),
        "fast_path_median": figure(
            float(np.median(runs["fast_path"])),
            float(np.median(base)),
            "s",
            "Assistant.open(encoder=query_encoder(index_dir)) + ask, as `ketaqa ask` should run",
        ),
        "runs_s": {name: [round(t, 3) for t in times] for name, times in runs.items()},
    }


def bench_memory(settings: Settings, index: Index, questions: list[str], plan: Plan) -> dict:
    env = _env(settings)
    qs = json.dumps(questions)
    base_out, _ = _run(_child("baseline", str(index.path / "passages.json")), env, qs)
    base_kb = json.loads(base_out.strip().splitlines()[-1])["peak_rss_kb"]
    out: dict = {"questions": len(questions)}
    kinds = ("query", "torch") if plan.name == "full" else ("query",)
    for kind in kinds:
        text, _ = _run(_child("memory", kind), env, qs)
        result = json.loads(text.strip().splitlines()[-1])
        name = "peak_rss" if kind == "query" else "peak_rss_torch"
        out[name] = figure(
            result["peak_rss_kb"] / 1024,
            base_kb / 1024,
            "MiB",
            f"assistant with the {result['encoder']} query encoder",
        )
    return out
