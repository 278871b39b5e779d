"""`ketaqa bench --quick`: every section is measured, beside its baseline, as JSON and Markdown.

Times are never asserted: only that each figure is a number with a baseline and a ratio.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ketaqa.apps.cli import build_parser
from ketaqa.apps.tool_commands import cmd_bench
from ketaqa.pipeline.indexing.fast_encoder import ENCODERS_DIR, export_onnx, fast_encoder_status
from ketaqa.tools.bench.figures import Plan, figure
from ketaqa.tools.bench.report import render_markdown
from ketaqa.tools.bench.scale import synthesise

SECTIONS = ("warm_query", "cold_ask", "build", "memory", "scale")
STAGES = ("tokenise", "bm25", "encode", "faiss", "fuse", "highlight")


def figures(node):
    """Every figure in a report section, with its path."""
    if isinstance(node, dict):
        if "ratio" in node:
            yield node
            return
        for value in node.values():
            yield from figures(value)
    elif isinstance(node, list):
        for value in node:
            yield from figures(value)


def check_figure(f: dict) -> None:
    assert isinstance(f["value"], float) and f["value"] >= 0, f
    assert isinstance(f["baseline"], float) and f["baseline"] > 0, f
    assert isinstance(f["ratio"], float), f
    assert f["ratio"] == pytest.approx(f["value"] / f["baseline"], rel=2e-3, abs=1e-3), f
    assert f["unit"]


def shared_onnx_dir(tmp_path_factory) -> Path:
    """One export per test session, shared with test_fast_encoder.py (same folder)."""
    folder = tmp_path_factory.getbasetemp() / "ketaqa-onnx-index"
    if fast_encoder_status(folder) != "ok":
        export_onnx(folder)
    return folder


@pytest.fixture
def bench_settings(tmp_path, monkeypatch, settings, assistant, tmp_path_factory, encoder):
    """A private copy of the session's index, with the session's ONNX export copied in."""
    index_dir = tmp_path / "index"
    shutil.copytree(settings.index_dir, index_dir)
    if not (index_dir / ENCODERS_DIR).exists():  # other tests may have exported one already
        shutil.copytree(shared_onnx_dir(tmp_path_factory) / ENCODERS_DIR, index_dir / ENCODERS_DIR)
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KETAQA_DATA_DIR", str(tmp_path / "data"))
    return settings


@pytest.mark.slow
def test_quick_bench_reports_every_section_beside_its_baseline(bench_settings, tmp_path):
    out = tmp_path / "report"
    args = build_parser().parse_args(["bench", "--quick", "--out", str(out)])
    messages: list[str] = []
    assert cmd_bench(args, messages.append) == 0

    report = json.loads((out / "bench.json").read_text())
    assert report["meta"]["plan"]["name"] == "quick"
    assert report["meta"]["query_encoder"] == "onnxruntime"
    for section in SECTIONS:
        found = list(figures(report[section]))
        assert found, f"{section} has no figures"
        for f in found:
            check_figure(f)

    stages = report["warm_query"]["stages"]
    for stage in STAGES:
        assert f"{stage}_p50" in stages and f"{stage}_p95" in stages
    for key in ("ask_p50", "ask_p95"):
        assert key in report["warm_query"]
    assert report["cold_ask"]["ask_median"]["unit"] == "s"
    for key in ("index_build", "onnx_export", "index_size"):
        assert key in report["build"]
    assert report["memory"]["peak_rss"]["unit"] == "MiB"

    sizes = report["scale"]["sizes"]
    assert [row["passages"] for row in sizes] == list(Plan.quick().scale_sizes)
    for row in sizes:
        for key in ("build", "size", "query_p50"):
            assert key in row
    with_ann = [row for row in sizes if "ann_recall@10" in row]
    assert with_ann, "no size reached the approximate index"
    assert 0.0 <= with_ann[0]["ann_recall@10"]["value"] <= 1.0

    markdown = (out / "bench.md").read_text()
    assert "| measure | ketaqa | baseline | ratio |" in markdown
    for title in ("Warm queries", "Cold `ketaqa ask`", "Index build", "Peak memory", "Scale"):
        assert title in markdown
    assert any("bench report" in m for m in messages)


def test_parser_options():
    parser = build_parser()
    args = parser.parse_args(["bench"])
    assert (args.quick, args.out, args.skip_scale) == (False, None, False)
    args = parser.parse_args(["bench", "--quick", "--skip-scale", "--out", "x"])
    assert args.quick and args.skip_scale and str(args.out) == "x"


def test_synthetic_corpus_is_deterministic_and_normalised():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    sentences = [f"sentence {i} words" for i in range(20)]
    tokens = [s.split() for s in sentences]
    a = synthesise(sentences, tokens, vectors, 50, seed=7)
    b = synthesise(sentences, tokens, vectors, 50, seed=7)
    assert a.texts == b.texts and a.tokens == b.tokens
    assert np.array_equal(a.vectors, b.vectors)
    assert len(a.texts) == len(a.tokens) == len(a.split_tokens) == a.vectors.shape[0] == 50
    np.testing.assert_allclose(np.linalg.norm(a.vectors, axis=1), 1.0, rtol=1e-5)
    assert all(2 <= len(t) // 3 <= 6 for t in a.tokens)  # 2-6 sentences of 3 tokens


def test_figure_and_markdown_of_a_skipped_scale():
    f = figure(3.0, 1.5, "ms", "note")
    assert f["ratio"] == 2.0
    report = {
        "meta": {
            "date": "today",
            "plan": {"name": "quick"},
            "baseline": "plain BM25",
            "cpus": 2,
            "machine": "x86_64",
            "python": "3.11",
            "load_average_start": [1.0, 1.0, 1.0],
        },
        "warm_query": {"ask_p50": f},
        "scale": {"skipped": True},
    }
    text = render_markdown(report)
    assert "| ask_p50 | 3.00 ms | 1.50 ms | 2× | note |" in text
    assert "Skipped" in text


def test_the_baseline_child_takes_more_questions_than_one_argument_can_hold(tmp_path):
    """The memory section hands every question to a child process: 1248 of them are more than
    the 128 KiB Linux allows one argument, so they go on stdin."""
    from ketaqa.config import child_env
    from ketaqa.tools.bench.cold import _child, _run

    passages = [{"id": "p1", "text": "ketamine infusion dose"}, {"id": "p2", "text": "other"}]
    passages_file = tmp_path / "passages.json"
    passages_file.write_text(json.dumps(passages), encoding="utf-8")
    questions = ["what ketamine infusion dose " + "x" * 500] * 300  # about 160 KB as JSON
    assert len(json.dumps(questions)) > 128 * 1024
    out, _ = _run(_child("baseline", str(passages_file)), child_env(), json.dumps(questions))
    lines = out.strip().splitlines()
    assert len(lines) == len(questions) + 1
    assert json.loads(lines[0])[0] == "p1"
    assert json.loads(lines[-1])["peak_rss_kb"] > 0
