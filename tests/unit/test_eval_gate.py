"""The gate and the comparison on synthetic reports: no model, no index."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ketaqa.errors import InputError
from ketaqa.evaluation.compare import compare, comparison_lines, paired_test
from ketaqa.evaluation.gate import (
    accept,
    flatten_metrics,
    load_baseline,
    load_expected,
    questions_file_for,
)
from ketaqa.evaluation.outcomes import failure_kinds, failures_by_kind
from ketaqa.evaluation.report import report_markdown


def outcome(qid: str, hit1: bool | None, answerable: bool = True, abstained: bool = False):
    return {
        "id": qid,
        "question": f"question {qid}?",
        "tags": ["ward"],
        "answerable": answerable,
        "judged": hit1 is not None,
        "rank": (1 if hit1 else 3) if hit1 is not None else None,
        "hit1": hit1,
        "hit5": True if hit1 is not None else None,
        "verdict": "not_covered" if abstained else "answers",
        "abstained": abstained,
        "confidence": 0.5,
        "highlight_ok": True if answerable else None,
        "citation_ok": None,
        "top_section": "Section I › A",
        "top_excerpt": "text …",
        "gold_section": "Section I › B" if answerable else None,
    }


def synthetic_report() -> dict:
    metrics = {"hit@1": 0.8, "recall@5": 0.9, "mrr@10": 0.85, "ndcg@10": 0.87}
    outcomes = [outcome(f"q{i}", True) for i in range(8)] + [
        outcome("q8", False),
        outcome("q9", None, answerable=False, abstained=True),
    ]
    return {
        "split": "test",
        "questions": 10,
        "judged": 9,
        "retrievers": {"bm25": dict(metrics), "full": dict(metrics)},
        "answer": {
            "highlight_accuracy": 0.9,
            "abstention_precision": 1.0,
            "abstention_recall": 1.0,
            "false_abstention_rate": 0.0,
            "verdict_ece": 0.1,
            "answerable_questions": 9,
        },
        "by_tag": {"ward": {"questions": 10, "hit@1": 0.8, "false_abstention_rate": 0.0}},
        "question_outcomes": outcomes,
        "failures": failures_by_kind(outcomes),
        "header": {"commit": "abc", "dirty": False, "date": "2025-01-01"},
    }


def test_every_reported_metric_is_gated(tmp_path):
    report = synthetic_report()
    scores, questions = accept(report, tmp_path / "expected_scores.json")
    assert questions == tmp_path / "expected_questions.json"
    doc = json.loads(scores.read_text())
    assert doc["answer_ceilings"] == {"false_abstention_rate": 0.0, "verdict_ece": 0.1}
    assert doc["tag_ceilings"] == {"ward": {"false_abstention_rate": 0.0}}
    assert "answerable_questions" not in doc["answer_floors"]
    baseline = load_expected(scores)
    assert set(baseline.metrics) == set(flatten_metrics(report))
    result = compare(report, baseline)
    assert result["regressions"] == [] and result["flips"]["broken"] == []


def test_regressions_and_flips_are_named(tmp_path):
    report = synthetic_report()
    accept(report, tmp_path / "expected_scores.json")
    worse = copy.deepcopy(report)
    worse["retrievers"]["full"]["hit@1"] = 0.7  # beyond the 0.02 tolerance
    worse["retrievers"]["bm25"]["hit@1"] = 0.79  # within it
    worse["answer"]["false_abstention_rate"] = 0.05  # an error rate rising
    worse["by_tag"]["ward"].pop("hit@1")  # a gated metric no longer reported
    worse["question_outcomes"][0] = outcome("q0", False)
    worse["question_outcomes"][8] = outcome("q8", True)
    worse["question_outcomes"][1] = outcome("q1", True, abstained=True)
    result = compare(worse, load_baseline("expected", tmp_path / "expected_scores.json"))
    assert result["regressions"] == [
        "answer/false_abstention_rate",
        "full/hit@1",
        "tag/ward/hit@1",
    ]
    broken = {(e["id"], e["on"]) for e in result["flips"]["broken"]}
    assert broken == {("q0", "hit@1"), ("q1", "verdict")}
    assert {e["id"] for e in result["flips"]["fixed"]} == {"q8"}
    text = "\n".join(comparison_lines(result))
    assert "REGRESSED (3)" in text and "q0 [hit@1]" in text
    worse["comparison"] = result
    markdown = report_markdown(worse)
    assert "**regressed**" in markdown and "### Broken questions (2)" in markdown


def test_a_report_folder_is_a_baseline_and_other_questions_are_refused(tmp_path):
    report = synthetic_report()
    (tmp_path / "report.json").write_text(json.dumps(report))
    baseline = load_baseline(str(tmp_path), tmp_path / "unused.json")
    assert compare(report, baseline)["flips"]["tests"]["hit@1"]["n"] == 9
    fewer = copy.deepcopy(report)
    fewer["question_outcomes"] = fewer["question_outcomes"][:5]
    with pytest.raises(InputError, match="same --split, --limit"):
        compare(fewer, baseline)
    with pytest.raises(InputError, match="baseline not found"):
        load_baseline(str(tmp_path / "missing"), tmp_path / "unused.json")


def test_paired_test_on_flips():
    same = paired_test([(True, True)] * 10)
    assert same["mcnemar_p"] == 1.0 and same["ci95"] == [0.0, 0.0]
    worse = paired_test([(True, False)] * 8 + [(True, True)] * 20)
    assert worse["broken"] == 8 and worse["mcnemar_p"] < 0.01
    assert worse["ci95"][1] < 0 < 1 + worse["ci95"][0]


def test_failure_kinds_and_markdown():
    report = synthetic_report()
    assert failure_kinds(report["question_outcomes"][8]) == ["miss@1"]
    wrong = outcome("q10", True, answerable=False, abstained=False)
    assert failure_kinds(wrong) == ["false answer"]
    markdown = report_markdown(report)
    for part in ("| commit | `abc` |", "### miss@1 (1)", "question q8?", "Section I › B"):
        assert part in markdown


def test_questions_file_name():
    assert questions_file_for(Path("/x/gate.json")).name == "gate-questions.json"


def test_evaluation_tab_lists_failures_and_the_gate(tmp_path):
    from ketaqa.apps.ui.eval_tab import failure_rows, gate_rows

    report = synthetic_report()
    assert failure_rows(report) == [
        ["miss@1", "q8", "question q8?", "Section I › A", "text …", "Section I › B"]
    ]
    summary, rows = gate_rows(report)
    assert "not compared" in summary and rows == []
    accept(report, tmp_path / "expected_scores.json")
    worse = copy.deepcopy(report)
    worse["retrievers"]["full"]["mrr@10"] = 0.5
    worse["comparison"] = compare(worse, load_expected(tmp_path / "expected_scores.json"))
    summary, rows = gate_rows(worse)
    assert summary.startswith("Gate: 1 of") and rows == [
        ["full/mrr@10", 0.85, 0.5, -0.35, "REGRESSED"]
    ]
