"""`ketaqa eval`: report shape, agreement with `ketaqa ask --file`, and the quality gate."""

from __future__ import annotations

import json

import pytest

from ketaqa.apps.cli import main
from ketaqa.config import EXPECTED_SCORES_FILE
from ketaqa.errors import InputError
from ketaqa.evaluation.compare import compare, comparison_lines
from ketaqa.evaluation.dataset import load_questions
from ketaqa.evaluation.gate import load_expected
from ketaqa.evaluation.run import run_evaluation
from ketaqa.evaluation.tune import best_threshold


@pytest.fixture(scope="session")
def test_split_report(assistant, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return run_evaluation(assistant, "test", out), out


@pytest.mark.slow
def test_report_files_and_shape(test_split_report):
    report, out = test_split_report
    assert report["split"] == "test"
    assert set(report["retrievers"]) == {"bm25", "dense", "hybrid-rrf", "hybrid-weighted", "full"}
    for scores in report["retrievers"].values():
        assert set(scores) == {"hit@1", "recall@5", "mrr@10", "ndcg@10"}
        assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert {
        "highlight_accuracy",
        "citation_accuracy",
        "abstention_precision",
        "abstention_recall",
        "false_abstention_rate",
        "answerable_not_covered_rate",
        "near_miss_answered_rate",
        "verdict_ece",
    } <= set(report["answer"])
    assert "unanswerable" in report["by_tag"] and "sec1-A" in report["by_tag"]
    assert set(report["significance"]) == {"bm25", "dense", "hybrid-rrf", "hybrid-weighted"}
    for name in (
        "report.json",
        "report.md",
        "metrics.png",
        "by_tag.png",
        "reliability.png",
        "qrels.trec",
        "runs/full.trec",
        "runs/bm25.trec",
    ):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "report.json").read_text()) == report
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_quality_gate(test_split_report):
    """Fail when any reported metric regresses beyond the tolerance against the accepted
    scores: the comparison `ketaqa eval --baseline expected` runs (not a timing)."""
    report, _ = test_split_report
    comparison = compare(report, load_expected(EXPECTED_SCORES_FILE))
    assert not comparison["regressions"], "\n".join(comparison_lines(comparison))
    assert len(comparison["deltas"]) >= 100  # every retriever, answer and tag metric
    assert comparison["flips"]["available"]


@pytest.mark.slow
def test_broken_pipeline_fails_the_gate(settings, monkeypatch, capsys, tmp_path):
    """Dense weight 0 (BM25 alone) on a 30-question subset: `--baseline expected` exits 1,
    names the regressed metrics and the questions it broke."""
    from ketaqa import config

    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(settings.index_dir))
    expected = tmp_path / "expected_scores.json"
    subset = ["eval", "--split", "test", "--limit", "30", "--expected", str(expected)]
    assert main([*subset, "--accept", "--out", str(tmp_path / "accepted")]) == 0
    assert (tmp_path / "expected_questions.json").exists()
    assert main([*subset, "--baseline", "expected", "--out", str(tmp_path / "same")]) == 0
    capsys.readouterr()
    tuned = json.loads(config.TUNED_SETTINGS_FILE.read_text())
    tuned["retrieval"]["dense_weight"] = 0.0
    broken_file = tmp_path / "tuned_settings.json"
    broken_file.write_text(json.dumps(tuned))
    monkeypatch.setattr(config, "TUNED_SETTINGS_FILE", broken_file)
    assert main([*subset, "--baseline", "expected", "--out", str(tmp_path / "broken")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and "full/hit@1" in out
    report = json.loads((tmp_path / "broken" / "report.json").read_text())
    assert report["header"]["settings"]["dense_weight"] == 0.0
    broken = report["comparison"]["flips"]["broken"]
    assert broken and f"{broken[0]['id']} [{broken[0]['on']}]" in out
    assert "### Broken questions" in (tmp_path / "broken" / "report.md").read_text()


@pytest.mark.slow
def test_teaching_set_export_is_scored(assistant, settings, monkeypatch, tmp_path):
    """`ketaqa eval --questions EXPORT` scores an educator's items with the passage the
    teacher marked correct as gold, before they are curated into the question set."""
    from ketaqa import teaching
    from ketaqa.teaching.models import Item, SavedPassage, TeachingSet

    items = []
    for n, question in enumerate(("ketamine contraindications", "oral ketamine dose"), 1):
        shown = assistant.ask(question, top_k=5).to_json()["passages"]
        passages = tuple(SavedPassage.from_answer_json(p) for p in shown)
        items.append(Item(n, n, question, passages, correct_passage_id=passages[n - 1].id))
    week = TeachingSet(1, "Week 1", "", "", tuple(items))
    export = teaching.write_export(week, "eval", tmp_path)
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(settings.index_dir))
    out = tmp_path / "report"
    assert main(["eval", "--questions", str(export), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "all" and report["questions"] == report["judged"] == 2
    assert report["by_tag"]["teaching-set"]["questions"] == 2
    second = report["question_outcomes"][1]  # the teacher chose the 2nd passage shown
    assert second["rank"] == 2 and second["gold_section"] == items[1].passages[1].section
    assert second["id"] in {f["id"] for f in report["failures"]["miss@1"]}


@pytest.mark.slow
def test_eval_agrees_with_ask_file(assistant, settings, monkeypatch, capsys, tmp_path):
    """The `full` run is what `ketaqa ask --file --json` returns for the same questions."""
    items = [i for i in load_questions() if i.split == "dev"][:6]
    qfile = tmp_path / "q.txt"
    qfile.write_text("\n".join(i.question for i in items), encoding="utf-8")
    monkeypatch.setenv("KETAQA_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KETAQA_INDEX_DIR", str(settings.index_dir))
    assert main(["ask", "--file", str(qfile), "--json", "--top-k", "10"]) == 0
    cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    from ketaqa.pipeline.answering.assistant import Assistant

    served = Assistant.open_for_queries(settings)  # what `ketaqa eval` uses, as `ask` does
    report = run_evaluation(served, "dev", tmp_path / "r", limit=6)
    runs = [
        line.split() for line in (tmp_path / "r" / "runs" / "full.trec").read_text().splitlines()
    ]
    for item, answer in zip(items, cli, strict=True):
        from_eval = [r[2] for r in runs if r[0] == item.id]
        assert from_eval == [p["id"] for p in answer["passages"]]
    assert report["questions"] == 6


def test_corrupt_question_set_names_the_line(tmp_path):
    path = tmp_path / "q.jsonl"
    good = json.dumps(
        {
            "id": "a",
            "question": "q",
            "gold_spans": [],
            "reference_key": None,
            "tags": [],
            "split": "dev",
            "answerable": False,
        }
    )
    path.write_text(good + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        load_questions(path)
    path.write_text(good + "\n" + good + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate"):
        load_questions(path)


def test_best_threshold_separates_when_it_can():
    confidences = [(0.9, True), (0.8, True), (0.7, True), (0.4, False), (0.3, False)]
    t = best_threshold(confidences)
    assert 0.4 < t < 0.7
