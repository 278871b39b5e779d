"""The question loader and the gold-span judgments, without a model or an index."""

from __future__ import annotations

from types import SimpleNamespace

from ketaqa.evaluation.dataset import EvalItem, build_qrels, load_questions


def item(id: str, spans: tuple[str, ...], answerable: bool = True) -> EvalItem:
    return EvalItem(id, "q?", spans, None, (), "dev", answerable)


def test_load_questions_reads_the_curated_set():
    items = load_questions()
    assert items and len({i.id for i in items}) == len(items)
    assert {i.split for i in items} == {"dev", "test"}


def test_build_qrels_matches_gold_spans_across_white_space():
    passages = [
        SimpleNamespace(id="p2", text="ketamine\n  infusion over 40 minutes"),
        SimpleNamespace(id="p1", text="an infusion over 40 minutes, then"),
        SimpleNamespace(id="p3", text="nothing relevant"),
    ]
    items = [
        item("a", ("infusion over 40 minutes",)),
        item("b", ("not in any passage",)),
        item("c", ("infusion",), answerable=False),
    ]
    qrels = build_qrels(passages, items)
    assert qrels == {"a": {"p1": 1, "p2": 1}}
    assert list(qrels["a"]) == ["p1", "p2"]  # sorted, so the TREC file is stable
