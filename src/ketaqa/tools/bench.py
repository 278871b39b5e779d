"""`ketaqa bench`: how fast, how big and how hungry ketaqa is, beside a plain BM25 baseline.

Every figure is measured in the same run as its baseline and reported as a ratio to it. The
baseline is what one would write first: rank-bm25's `BM25Okapi` over the same passages, with
`str.split` tokenisation, no dense vectors, no highlights.

Sections (bench.json and bench.md under eval/reports/bench-<date>/):

- warm_query   in-process `Assistant.ask` latency (p50/p95) over the curated questions, and each
               stage timed by calling the retriever pieces directly: tokenise, bm25, encode,
               faiss, fuse, highlight
- cold_ask     `ketaqa ask` in a new process, with the index present
- build        `build_index` on the corpus (a cut of it with --quick), and the ONNX export
- memory       peak RSS of a process that loads the assistant and answers the questions
- scale        synthetic corpora of 10k and 100k passages recombined from the real corpus'
               sentences: build time, size on disk, query p50, and an approximate FAISS index
               (HNSW) from `ANN_MIN_PASSAGES` passages up, with its recall@10 against the exact
               `IndexFlatIP`. Encoding 100k passages on 2 cores would take an hour, so a synthetic
               passage's vector is the normalised sum of its real sentences' vectors.

Times are measured, never asserted: they depend on the machine and on what else it is doing
(the load average is recorded beside them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import numpy as np

from ketaqa.config import REPO_ROOT, Settings, child_env
from ketaqa.files import write_atomic

Progress = Callable[[str], None]
T = TypeVar("T")

QUESTIONS_FILE = REPO_ROOT / "eval" / "questions.jsonl"
SEED = 20240601
TOP_K = 5
# From here up an HNSW index answers the dense half: exact IndexFlatIP search grows linearly
# (2 busy cores, two runs: 2.5-16 ms at 10k passages, 16-45 ms at 100k) while HNSW stays under
# 1 ms at a recall@10 of ~0.99; below it the exact search is cheap and has no recall to lose.
ANN_MIN_PASSAGES = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
SENTENCES_PER_PASSAGE = (2, 6)  # a synthetic passage joins this many real sentences (inclusive)
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
    ann_min_passages: int
    scale_queries: int

    @classmethod
    def full(cls) -> Plan:
        return cls("full", None, 3, 5, None, (10_000, 100_000), ANN_MIN_PASSAGES, 50)

    @classmethod
    def quick(cls) -> Plan:
        return cls("quick", 12, 1, 1, 8000, (1_000, 3_000), 2_000, 8)


# ---------------------------------------------------------------------------------------------
# command line


def add_bench_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "bench",
        help="measure latency, memory, build time and scale beside a plain BM25 baseline",
    )
    p.add_argument("--quick", action="store_true", help="a small subset: seconds, not minutes")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/bench-<date>/)")
    p.add_argument(
        "--skip-scale", action="store_true", help="skip the synthetic 10k/100k-passage corpora"
    )
    p.add_argument("--questions", type=Path, help="question set (default eval/questions.jsonl)")
    return p


def cmd_bench(args: argparse.Namespace, progress: Progress) -> int:
    settings = Settings.from_env()
    plan = Plan.quick() if getattr(args, "quick", False) else Plan.full()
    out = getattr(args, "out", None) or (
        REPO_ROOT / "eval" / "reports" / f"bench-{dt.date.today().isoformat()}"
    )
    questions = load_questions(getattr(args, "questions", None) or QUESTIONS_FILE, plan.questions)
    report = run_bench(
        settings, plan, questions, progress, skip_scale=getattr(args, "skip_scale", False)
    )
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "bench.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "bench.md", render_markdown(report))
    progress(f"bench report written to {out}/bench.md and bench.json")
    return 0


def load_questions(path: Path, limit: int | None = None) -> list[str]:
    from ketaqa.errors import InputError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the question set {path}: {exc}") from exc
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    if not questions:
        raise InputError(f"{path} has no questions in it")
    return questions[:limit] if limit else questions


# ---------------------------------------------------------------------------------------------
# figures


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


def _top(fused: dict[int, float], k: int) -> list[int]:
    """HybridRetriever.search's ordering of fused scores."""
    return sorted(fused, key=lambda i: (-round(fused[i], 9), i))[:k]


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ---------------------------------------------------------------------------------------------
# the run


def run_bench(
    settings: Settings,
    plan: Plan,
    questions: list[str],
    progress: Progress,
    skip_scale: bool = False,
) -> dict:
    from ketaqa.pipeline.embedding import Encoder
    from ketaqa.pipeline.fast_encoder import ensure_fast_encoder, fast_encoder_status, query_encoder
    from ketaqa.pipeline.index import index_status, load_index, open_index

    report: dict = {"meta": _meta(settings, plan, questions)}
    # the live index, built by the torch encoder when missing or stale (as `ketaqa index` does)
    torch_encoder = Encoder()
    _, model_load = _timed(lambda: torch_encoder.encode(["warm up"]))
    status = index_status(settings)
    if status != "ok":
        progress(f"index {status}; building it first")
        open_index(settings, torch_encoder, rebuild=True, progress=progress)
    export_seconds: float | None = None
    if fast_encoder_status(settings.index_dir) != "ok":
        ok, export_seconds = _timed(lambda: ensure_fast_encoder(settings.index_dir, progress))
        if not ok:
            export_seconds = None
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
        "versions": {
            n: version(n)
            for n in ("torch", "onnxruntime", "faiss-cpu", "rank-bm25", "sentence-transformers")
        },
        "index_dir": str(settings.index_dir),
        "retrieval": settings.retrieval.to_dict(),
    }


# ---------------------------------------------------------------------------------------------
# build


def bench_build(
    settings: Settings,
    plan: Plan,
    encoder,
    model_load: float,
    export_seconds: float | None,
) -> dict:
    from rank_bm25 import BM25Okapi

    from ketaqa.pipeline.fast_encoder import META_FILE, ONNX_FILE, artefact_dir, export_onnx
    from ketaqa.pipeline.index import build_index

    with tempfile.TemporaryDirectory(prefix="ketaqa-bench-") as tmp:
        root = Path(tmp)
        corpus_dir = settings.corpus_dir
        if plan.corpus_chars:
            corpus_dir = _corpus_cut(settings.corpus_dir, root / "corpus", plan.corpus_chars)
        build_settings = replace(settings, corpus_dir=corpus_dir, index_dir=root / "index")
        index, seconds = _timed(lambda: build_index(build_settings, encoder))
        size = _dir_bytes(index.path)
        texts = [p.text for p in index.passages]
        units = len(index.unit_vectors)

        def baseline_build():
            return BM25Okapi([t.split() for t in texts])

        _, baseline_seconds = _timed(baseline_build)
        baseline_size = len(json.dumps([t.split() for t in texts]).encode()) + len(
            json.dumps(texts).encode()
        )
        export_note = "exported for the live index in this run"
        if export_seconds is None and plan.name == "full":
            _, export_seconds = _timed(lambda: export_onnx(build_settings.index_dir))
            export_note = "exported into the temporary index"
        if export_seconds is None:  # quick run, live artefact already there: its own record
            meta = json.loads((artefact_dir(settings.index_dir) / META_FILE).read_text())
            export_seconds = float(meta["export_seconds"])
            export_note = "recorded when the live artefact was exported"
        onnx_size = (artefact_dir(settings.index_dir) / ONNX_FILE).stat().st_size
    cut = f"first {plan.corpus_chars} characters of each document" if plan.corpus_chars else ""
    return {
        "passages": len(texts),
        "sentences": units,
        "corpus": cut or "the whole corpus",
        "index_build": figure(
            seconds, baseline_seconds, "s", "build_index with the model loaded (torch)"
        ),
        "model_load": figure(model_load, baseline_seconds, "s", "sentence-transformers load"),
        "onnx_export": figure(export_seconds, baseline_seconds, "s", export_note),
        "index_size": figure(
            size, baseline_size, "bytes", "build folder; baseline: texts + split tokens as JSON"
        ),
        "onnx_size": figure(
            onnx_size, baseline_size, "bytes", "encoders/onnx-*/model.onnx beside the builds"
        ),
    }


def _corpus_cut(source: Path, target: Path, chars: int) -> Path:
    """A small corpus: the first `chars` characters (to a paragraph end) of each text file."""
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.suffix in (".txt", ".md"):
            text = path.read_text(encoding="utf-8")
            cut = text[:chars]
            if len(text) > chars and "\n\n" in cut:
                cut = cut[: cut.rfind("\n\n")]
            (target / path.name).write_text(cut.rstrip() + "\n", encoding="utf-8")
        elif path.name == "references.json":
            shutil.copy(path, target / path.name)
    return target


# ---------------------------------------------------------------------------------------------
# warm queries


def bench_warm(
    settings: Settings, index, encoder, torch_encoder, questions: list[str], plan: Plan
) -> dict:
    from rank_bm25 import BM25Okapi

    from ketaqa.pipeline.assistant import Assistant
    from ketaqa.pipeline.retrieve import FUSIONS, rank

    assistant = Assistant(settings, encoder, index)
    rs = settings.retrieval
    lexical, dense, answerer = (
        assistant.retriever.lexical,
        assistant.retriever.dense,
        assistant.answerer,
    )
    n = max(TOP_K, rs.candidates)
    for q in questions[:2]:  # warm-up: first calls allocate
        assistant.ask(q, top_k=TOP_K)
        torch_encoder.encode([q])

    ask_times: list[float] = []
    watch = Stopwatch()
    for _ in range(plan.repeats):
        for q in questions:
            with Timer() as t:
                assistant.ask(q, top_k=TOP_K)
            ask_times.append(t.seconds)
            with watch("tokenise"):
                tokens = index.tokenizer.tokenize(q)
            with watch("bm25"):
                scores = lexical.scores(tokens)
                lex = [s for s in rank(scores, n) if s.score > 0]
            with watch("encode"):
                vector = encoder.encode([q])[0]
            with watch("faiss"):
                den = dense.search_vector(vector, n)
            with watch("fuse"):
                fused = FUSIONS[rs.fusion](lex, den, rs)
                order = _top(fused, TOP_K)
            with watch("highlight"):
                terms = list(dict.fromkeys(tokens))
                for i in order:
                    answerer.highlight(i, terms, vector)

    # a pass of its own: torch's OpenMP threads spin after each call and would slow the stages
    # timed after it
    for _ in range(plan.repeats):
        for q in questions:
            with watch("encode_torch"):
                torch_encoder.encode([q])

    texts = [p.text for p in index.passages]
    bm25 = BM25Okapi([t.split() for t in texts])
    base = Stopwatch()
    for _ in range(plan.repeats):
        for q in questions:
            with base("total"):
                with base("tokenise"):
                    tokens = q.split()
                with base("bm25"):
                    scores = bm25.get_scores(tokens)
                    np.argsort(-scores, kind="stable")[:TOP_K]

    ask, base_total = percentiles(ask_times), percentiles(base.times["total"])
    stages = {name: percentiles(times) for name, times in watch.times.items()}
    base_stages = {name: percentiles(times) for name, times in base.times.items()}
    encoder_kind = getattr(encoder, "kind", "sentence-transformers")
    out: dict = {
        "questions": len(questions),
        "repeats": plan.repeats,
        "query_encoder": encoder_kind,
        "ask_p50": figure(ask["p50"], base_total["p50"], "ms", "Assistant.ask, top 5"),
        "ask_p95": figure(ask["p95"], base_total["p95"], "ms", "Assistant.ask, top 5"),
        "ask_mean": figure(ask["mean"], base_total["mean"], "ms", "Assistant.ask, top 5"),
        "stages": {},
    }
    notes = {
        "tokenise": ("tokenise", "clinical tokenizer vs str.split"),
        "bm25": ("bm25", f"scores + top {n}; baseline scores + top {TOP_K}"),
        "encode": ("total", f"{encoder_kind}; baseline: a whole plain BM25 query"),
        "faiss": ("total", f"IndexFlatIP top {n}; baseline: a whole plain BM25 query"),
        "fuse": ("total", f"{rs.fusion} fusion; baseline: a whole plain BM25 query"),
        "highlight": ("total", f"Answerer.highlight x {TOP_K}; baseline: a whole BM25 query"),
        "encode_torch": ("total", "sentence-transformers, for comparison with encode"),
    }
    for name, (base_name, note) in notes.items():
        for p in ("p50", "p95"):
            out["stages"][f"{name}_{p}"] = figure(
                stages[name][p], base_stages[base_name][p], "ms", note
            )
    return out


# ---------------------------------------------------------------------------------------------
# cold `ketaqa ask` and memory, in new processes

BASELINE_SCRIPT = """
import json, resource, sys
from rank_bm25 import BM25Okapi
import numpy as np
passages = json.load(open(sys.argv[1], encoding="utf-8"))
bm25 = BM25Okapi([p["text"].split() for p in passages])
questions = json.loads(sys.argv[2])
for q in questions:
    scores = bm25.get_scores(q.split())
    top = np.argsort(-scores, kind="stable")[:5]
    print(json.dumps([passages[i]["id"] for i in top]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
except OSError:
    pass
print(json.dumps({"peak_rss_kb": peak}))
"""

FAST_ASK_SCRIPT = """
import json, sys
from ketaqa.pipeline.assistant import Assistant
from ketaqa.pipeline.fast_encoder import query_encoder
from ketaqa.pipeline.index import index_status
from ketaqa.config import Settings
settings = Settings.from_env()
encoder = query_encoder(settings.index_dir) if index_status(settings) == "ok" else None
assistant = Assistant.open(settings, encoder=encoder)
print(json.dumps(assistant.to_json(assistant.ask(sys.argv[1]))))
"""

MEMORY_SCRIPT = """
import json, sys
from ketaqa.tools.bench import memory_worker
memory_worker(sys.argv[1], json.loads(sys.argv[2]))
"""


def _env() -> dict[str, str]:
    return child_env()


def _run(cmd: list[str], env: dict[str, str]) -> tuple[str, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        from ketaqa.errors import KetaqaError

        raise KetaqaError(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return proc.stdout, seconds


def bench_cold(settings: Settings, index, question: str, plan: Plan) -> dict:
    env = _env()
    env["KETAQA_INDEX_DIR"] = str(settings.index_dir)
    env["KETAQA_CORPUS_DIR"] = str(settings.corpus_dir)
    env["KETAQA_DATA_DIR"] = str(settings.data_dir)
    commands = {
        "ask": [sys.executable, "-m", "ketaqa.apps.cli", "ask", question],
        "fast_path": [sys.executable, "-c", FAST_ASK_SCRIPT, question],
        "baseline": [sys.executable, "-c", BASELINE_SCRIPT, str(index.path / "passages.json")]
        + [json.dumps([question])],
    }
    if plan.cold_runs > 1:  # one unmeasured run each: page cache, .pyc files
        for cmd in commands.values():
            _run(cmd, env)
    runs = {
        name: [_run(cmd, env)[1] for _ in range(plan.cold_runs)] for name, cmd in commands.items()
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


def memory_worker(encoder_kind: str, questions: list[str]) -> None:
    """Run in a new process: load the assistant, answer every question, print the peak RSS."""
    from ketaqa.pipeline.assistant import Assistant
    from ketaqa.pipeline.embedding import Encoder
    from ketaqa.pipeline.fast_encoder import query_encoder
    from ketaqa.pipeline.index import load_index

    settings = Settings.from_env()
    encoder = Encoder() if encoder_kind == "torch" else query_encoder(settings.index_dir)
    assistant = Assistant(settings, encoder, load_index(settings))  # type: ignore[arg-type]
    for q in questions:
        assistant.ask(q, top_k=TOP_K)
    print(json.dumps({"peak_rss_kb": peak_rss_kb(), "encoder": getattr(encoder, "kind", "torch")}))


def peak_rss_kb() -> int:
    """High-water resident set size of this process, in KiB."""
    # VmHWM first: Linux carries ru_maxrss over fork and exec, so a child started by a big
    # parent reports the parent's peak there
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_memory(settings: Settings, index, questions: list[str], plan: Plan) -> dict:
    env = _env()
    env["KETAQA_INDEX_DIR"] = str(settings.index_dir)
    env["KETAQA_CORPUS_DIR"] = str(settings.corpus_dir)
    qs = json.dumps(questions)
    base_out, _ = _run(
        [sys.executable, "-c", BASELINE_SCRIPT, str(index.path / "passages.json"), qs], env
    )
    base_kb = json.loads(base_out.strip().splitlines()[-1])["peak_rss_kb"]
    out: dict = {"questions": len(questions)}
    kinds = ("query", "torch") if plan.name == "full" else ("query",)
    for kind in kinds:
        text, _ = _run([sys.executable, "-c", MEMORY_SCRIPT, kind, qs], env)
        result = json.loads(text.strip().splitlines()[-1])
        name = "peak_rss" if kind == "query" else "peak_rss_torch"
        out[name] = figure(
            result["peak_rss_kb"] / 1024,
            base_kb / 1024,
            "MiB",
            f"assistant with the {result['encoder']} query encoder",
        )
    return out


# ---------------------------------------------------------------------------------------------
# scale


@dataclass
class Synthetic:
    texts: list[str]
    tokens: list[list[str]]
    split_tokens: list[list[str]]
    vectors: np.ndarray


def synthesise(
    sentences: list[str],
    sentence_tokens: list[list[str]],
    sentence_vectors: np.ndarray,
    n: int,
    seed: int = SEED,
) -> Synthetic:
    """`n` passages, each 2-6 real sentences drawn with a fixed seed; vector = normalised sum."""
    rng = np.random.default_rng(seed)
    low, high = SENTENCES_PER_PASSAGE
    counts = rng.integers(low, high + 1, size=n)
    picks = rng.integers(0, len(sentences), size=int(counts.sum()))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    vectors = np.add.reduceat(sentence_vectors[picks], starts, axis=0).astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    split = [s.split() for s in sentences]
    texts, tokens, split_tokens = [], [], []
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        chosen = picks[start : start + count].tolist()
        texts.append(" ".join(sentences[i] for i in chosen))
        tokens.append([t for i in chosen for t in sentence_tokens[i]])
        split_tokens.append([t for i in chosen for t in split[i]])
    return Synthetic(texts, tokens, split_tokens, np.ascontiguousarray(vectors))


def bench_scale(
    settings: Settings, index, encoder, questions: list[str], plan: Plan, progress: Progress
) -> dict:
    import faiss
    from rank_bm25 import BM25Okapi

    from ketaqa.pipeline.retrieve import BM25_VARIANTS, FUSIONS, DenseRetriever, LexicalRetriever

    rs = settings.retrieval
    sentences = [
        p.text[s:e]
        for p, spans in zip(index.passages, index.unit_spans, strict=True)
        for s, e in spans
    ]
    sentence_vectors = np.asarray(index.unit_vectors, dtype=np.float32)
    watch = Stopwatch()
    for s in sentences:
        with watch("ketaqa"):
            index.tokenizer.tokenize(s)
        with watch("split"):
            s.split()
    sentence_tokens = [index.tokenizer.tokenize(s) for s in sentences]
    queries = questions[: plan.scale_queries]
    query_vectors = encoder.encode(questions)  # every question, for recall@10
    n_cand = max(TOP_K, rs.candidates)
    out: dict = {
        "vectors": "normalised sums of the real sentences' vectors (no model encoding)",
        "tokens": "concatenated tokens of the real sentences, tokenised once (both sides)",
        "sentences": len(sentences),
        "seed": SEED,
        "ann": {
            "kind": f"IndexHNSWFlat(M={HNSW_M}, efConstruction={HNSW_EF_CONSTRUCTION}, "
            f"efSearch={HNSW_EF_SEARCH}), inner product",
            "min_passages": plan.ann_min_passages,
        },
        "tokenise_sentence": figure(
            percentiles(watch.times["ketaqa"])["mean"],
            percentiles(watch.times["split"])["mean"],
            "ms",
            "mean per real sentence: clinical tokenizer vs str.split",
        ),
        "sizes": [],
    }
    for n in plan.scale_sizes:
        progress(f"scale: {n} synthetic passages")
        data = synthesise(sentences, sentence_tokens, sentence_vectors, n)
        row: dict = {"passages": n}
        bm25_cls = BM25_VARIANTS[rs.bm25_variant]
        with Timer() as t:
            lexical = LexicalRetriever(data.tokens, index.tokenizer, rs.bm25_variant)
        bm25_s = t.seconds
        flat = faiss.IndexFlatIP(data.vectors.shape[1])
        with Timer() as t:
            flat.add(data.vectors)
        flat_s = t.seconds
        with Timer() as t:
            base_bm25 = BM25Okapi(data.split_tokens)
        base_s = t.seconds
        ann = None
        ann_s = 0.0
        if n >= plan.ann_min_passages:
            ann = faiss.IndexHNSWFlat(data.vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
            ann.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            with Timer() as t:
                ann.add(data.vectors)
            ann_s = t.seconds
            ann.hnsw.efSearch = HNSW_EF_SEARCH
        parts = f"{bm25_cls.__name__} + IndexFlatIP" + (" + HNSW" if ann is not None else "")
        row["build"] = figure(bm25_s + flat_s + ann_s, base_s, "s", parts)
        row["build_bm25"] = figure(bm25_s, base_s, "s", f"{bm25_cls.__name__}, clinical tokens")
        row["build_faiss"] = figure(flat_s, base_s, "s", "IndexFlatIP.add")
        if ann is not None:
            row["build_ann"] = figure(ann_s, base_s, "s", "IndexHNSWFlat.add")

        with tempfile.TemporaryDirectory(prefix="ketaqa-scale-") as tmp:
            folder = Path(tmp)
            (folder / "passages.json").write_text(json.dumps(data.texts))
            (folder / "tokens.json").write_text(json.dumps(data.tokens))
            (folder / "split.json").write_text(json.dumps(data.split_tokens))
            faiss.write_index(flat, str(folder / "dense.faiss"))
            if ann is not None:
                faiss.write_index(ann, str(folder / "ann.faiss"))
            sizes = {f.name: f.stat().st_size for f in folder.iterdir()}
        ketaqa_bytes = sum(v for k, v in sizes.items() if k != "split.json")
        base_bytes = sizes["passages.json"] + sizes["split.json"]
        row["size"] = figure(
            ketaqa_bytes,
            base_bytes,
            "bytes",
            "texts + tokens JSON + FAISS (+ HNSW); baseline: texts + split tokens JSON",
        )

        timings = Stopwatch()
        rows = list(range(len(queries)))
        for i in rows:
            q, vector = queries[i], query_vectors[i]
            for name, dense_index in (("flat", flat), ("ann", ann)):
                if dense_index is None:
                    continue
                retriever = DenseRetriever(dense_index, encoder)
                with timings(f"hybrid_{name}"):
                    lex = lexical.search(q, n_cand)
                    den = retriever.search_vector(vector, n_cand)
                    fused = FUSIONS[rs.fusion](lex, den, rs)
                    _top(fused, TOP_K)
                with timings(f"dense_{name}"):
                    retriever.search_vector(vector, n_cand)
            with timings("baseline"):
                scores = base_bm25.get_scores(q.split())
                np.argsort(-scores, kind="stable")[:TOP_K]
        p50 = {k: percentiles(v)["p50"] for k, v in timings.times.items()}
        row["query_p50"] = figure(
            p50["hybrid_flat"], p50["baseline"], "ms", "BM25 + exact dense + fusion, no encoding"
        )
        row["dense_flat_p50"] = figure(p50["dense_flat"], p50["baseline"], "ms", "IndexFlatIP")
        if ann is not None:
            row["query_ann_p50"] = figure(
                p50["hybrid_ann"], p50["baseline"], "ms", "BM25 + HNSW dense + fusion"
            )
            row["dense_ann_p50"] = figure(p50["dense_ann"], p50["baseline"], "ms", "HNSW")
            _, exact = flat.search(query_vectors, 10)
            _, approx = ann.search(query_vectors, 10)
            recall = float(
                np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
            )
            row["ann_recall@10"] = figure(
                recall, 1.0, "fraction", f"vs IndexFlatIP, {len(query_vectors)} questions"
            )
        out["sizes"].append(row)
        del data, lexical, flat, base_bm25, ann
    return out


# ---------------------------------------------------------------------------------------------
# Markdown


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "–"
    if unit == "bytes":
        return f"{x / 1e6:.2f} MB" if x >= 1e5 else f"{x / 1e3:.1f} kB"
    if unit == "fraction":
        return f"{x:.3f}"
    if abs(x) >= 100:
        return f"{x:,.0f} {unit}".strip()
    if abs(x) >= 1:
        return f"{x:.2f} {unit}".strip()
    return f"{x:.3g} {unit}".strip()


def _rows(section: dict, prefix: str = "") -> list[str]:
    lines = []
    for key, value in section.items():
        if isinstance(value, dict) and "ratio" in value:
            unit = value["unit"]
            ratio = "–" if value["ratio"] is None else f"{value['ratio']:.3g}×"
            lines.append(
                f"| {prefix}{key} | {_fmt(value['value'], unit)} | "
                f"{_fmt(value['baseline'], unit)} | {ratio} | {value['note']} |"
            )
        elif isinstance(value, dict):
            lines.extend(_rows(value, prefix=f"{prefix}{key}."))
    return lines


HEADER = ["| measure | ketaqa | baseline | ratio | note |", "| --- | ---: | ---: | ---: | --- |"]


def render_markdown(report: dict) -> str:
    meta = report["meta"]
    lines = [
        f"# ketaqa bench — {meta['date']} ({meta['plan']['name']})",
        "",
        f"Baseline: {meta['baseline']}, measured in the same run; ratio = ketaqa / baseline.",
        f"Machine: {meta['cpus']} CPUs ({meta['machine']}), Python {meta['python']}; load "
        f"average {_load(meta['load_average_start'])} at the start, "
        f"{_load(meta.get('load_average_end'))} at the end. "
        f"Query encoder: {meta.get('query_encoder')}. Index: {meta.get('passages')} passages.",
        "",
    ]
    titles = {
        "warm_query": "Warm queries (in process)",
        "cold_ask": "Cold `ketaqa ask` (new process)",
        "build": "Index build",
        "memory": "Peak memory",
    }
    for key, title in titles.items():
        section = report.get(key, {})
        lines += [f"## {title}", ""]
        context = [
            f"{k}: {json.dumps(v) if isinstance(v, dict) else v}"
            for k, v in section.items()
            if not isinstance(v, dict)
            or ("ratio" not in v and not any(isinstance(x, dict) for x in v.values()))
        ]
        if context:
            lines += ["; ".join(context), ""]
        lines += [*HEADER, *_rows(section), ""]
    scale = report.get("scale", {})
    lines += ["## Scale (synthetic corpora)", ""]
    if scale.get("skipped"):
        lines += ["Skipped (--skip-scale).", ""]
    else:
        lines += [
            f"Passages recombine {scale['sentences']} real sentences (seed {scale['seed']}); "
            f"vectors: {scale['vectors']}; tokens: {scale['tokens']}. Approximate index: "
            f"{scale['ann']['kind']}, from {scale['ann']['min_passages']:,} passages up.",
            "",
            *HEADER,
            *_rows({"tokenise_sentence": scale["tokenise_sentence"]}),
        ]
        for row in scale["sizes"]:
            n = row["passages"]
            lines += _rows({k: v for k, v in row.items() if k != "passages"}, f"{n:,} · ")
        lines.append("")
    return "\n".join(lines)


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"
