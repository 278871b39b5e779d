"""The warm_query section: `Assistant.ask` in process, and each of its stages timed by calling the
retriever's public pieces in the order `HybridRetriever.search` calls them."""

from __future__ import annotations

import numpy as np
from rank_bm25 import BM25Okapi

from ketaqa.config import Settings
from ketaqa.pipeline.answering.assistant import Assistant
from ketaqa.pipeline.indexing.embedding import TextEncoder
from ketaqa.pipeline.indexing.index import Index
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.pipeline.search.retrieve import Method, fuse, top_k
from ketaqa.tools.bench.figures import TOP_K, Plan, Stopwatch, Timer, figure, percentiles


def bench_warm(
    settings: Settings,
    index: Index,
    encoder: TextEncoder,
    torch_encoder: TextEncoder,
    questions: list[str],
    plan: Plan,
) -> dict:
    assistant = Assistant(settings, encoder, index)
    for q in questions[:2]:  # warm-up: first calls allocate
        assistant.ask(q, top_k=TOP_K)
        torch_encoder.encode([q])
    ask_times, watch = _time_stages(assistant, questions, plan)
    # a pass of its own: torch's OpenMP threads spin after each call and would slow the stages
    # timed after it
    for _ in range(plan.repeats):
        for q in questions:
            with watch("encode_torch"):
                torch_encoder.encode([q])
    base = _time_baseline(index, questions, plan)
    return _figures(settings, encoder, questions, plan, ask_times, watch, base)


def _time_stages(
    assistant: Assistant, questions: list[str], plan: Plan
) -> tuple[list[float], Stopwatch]:
    """`ask` whole, then its stages one by one on the same question."""
    rs = assistant.settings.retrieval
    retriever, answerer = assistant.retriever, assistant.answerer
    tokenizer = assistant.index.tokenizer
    n = max(TOP_K, rs.candidates)
    ask_times: list[float] = []
    watch = Stopwatch()
    for _ in range(plan.repeats):
        for q in questions:
            with Timer() as t:
                assistant.ask(q, top_k=TOP_K)
            ask_times.append(t.seconds)
            with watch("tokenise"):
                tokens = tokenizer.tokenize(q)
            with watch("bm25"):
                lex = retriever.lexical.search_tokens(tokens, n)
            with watch("encode"):
                vector = assistant.encoder.encode([q])[0]
            with watch("faiss"):
                den = retriever.dense.search_vector(vector, n)
            with watch("fuse"):
                fused = fuse(lex, den, Method.HYBRID, rs)
                fused = retriever.apply_priors(fused, QueryAnalysis.plain(q), rs)
                order = top_k(fused, TOP_K)
            with watch("highlight"):
                terms = list(dict.fromkeys(tokens))
                for i in order:
                    answerer.highlight(i, terms, vector)
    return ask_times, watch


def _time_baseline(index: Index, questions: list[str], plan: Plan) -> Stopwatch:
    """The plain BM25 query, whole and in its two stages."""
    bm25 = BM25Okapi([p.text.split() for p in index.passages])
    base = Stopwatch()
    for _ in range(plan.repeats):
        for q in questions:
            with base("total"):
                with base("tokenise"):
                    tokens = q.split()
                with base("bm25"):
                    scores = bm25.get_scores(tokens)
                    np.argsort(-scores, kind="stable")[:TOP_K]
    return base


def _figures(
    settings: Settings,
    encoder: TextEncoder,
    questions: list[str],
    plan: Plan,
    ask_times: list[float],
    watch: Stopwatch,
    base: Stopwatch,
) -> dict:
    rs = settings.retrieval
    n = max(TOP_K, rs.candidates)
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
        "fuse": ("total", f"{rs.fusion} fusion and priors; baseline: a whole plain BM25 query"),
        "highlight": ("total", f"Answerer.highlight x {TOP_K}; baseline: a whole BM25 query"),
        "encode_torch": ("total", "sentence-transformers, for comparison with encode"),
    }
    for name, (base_name, note) in notes.items():
        for p in ("p50", "p95"):
            out["stages"][f"{name}_{p}"] = figure(
                stages[name][p], base_stages[base_name][p], "ms", note
            )
    return out
