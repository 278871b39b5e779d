"""Retrieval over revisions of the statement: what the clinician asks still finds the same
passage with the same citation (fixed revisions drawn from tests/revisions.py, built from the
real corpus at test time; the structural property test is tests/unit/test_revisions.py)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
from revisions import APPENDIX, Revision, hand_revision, revise, unrecoverable

from ketaqa.config import REPO_ROOT, Settings
from ketaqa.evaluation.dataset import fold, load_questions

pytestmark = pytest.mark.slow

CORPUS = REPO_ROOT / "corpus"
REVISIONS = {
    "hand": hand_revision,
    "markdown-arabic-moved": lambda text: revise(
        text,
        Revision(
            contents="Table of contents",
            review="Review of the literature",
            bibliography="References",
            appendix=APPENDIX[1],
            numbering="arabic",
            case="sentence",
            markdown=True,
            bullet="•",
            move="paediatric-before-pre-2011",
            change="add-section",
        ),
    ),
    "part-numbered-bullets": lambda text: revise(
        text,
        Revision(
            contents="TABLE OF CONTENTS",
            review="Literature review",
            bibliography="Reference list",
            appendix=APPENDIX[2],
            numbering="part",
            case="title",
            bullet="numbered",
            move="appendix-before-definitions",
        ),
    ),
    "unrecoverable": unrecoverable,
}
CONTRAINDICATIONS = (
    "ketamine in pt with schizophrenia",
    "What are the contraindications to ketamine infusions?",
    "uncontrolled hypertension ketamine infusion?",
    "raised intracranial pressure ketamine",
    "active drug addiction and ketamine infusions",
)


def opened(tmp_path_factory, encoder, text: str):
    from ketaqa.pipeline.answering.assistant import Assistant

    root = tmp_path_factory.mktemp("revision")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "references.json", corpus / "references.json")
    (corpus / "position-statement.txt").write_text(text, encoding="utf-8")
    settings = replace(
        Settings.from_env({}), corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data"
    )
    return Assistant.open(settings, encoder)


@pytest.fixture(scope="module", params=list(REVISIONS))
def revision(request, tmp_path_factory, encoder, statement_text):
    text = REVISIONS[request.param](statement_text)
    return request.param, text, opened(tmp_path_factory, encoder, text)


def test_contraindications_are_answered_with_a2_ii_first(revision):
    name, _text, assistant = revision
    for question in CONTRAINDICATIONS:
        top = assistant.ask(question, top_k=5).passages[0].passage
        assert "cohen2018" in top.reference_keys, (name, question)
        if name != "unrecoverable":
            assert "(ii) contraindications" in str(top.section), (name, question)


def test_an_unrecoverable_revision_warns_in_the_index(revision):
    name, _text, assistant = revision
    warnings = assistant.index.manifest["warnings"]
    assert bool(warnings) == (name == "unrecoverable"), warnings


TODAY: dict[str, object] = {}  # question -> today's first relevant passage in the top 5


def first_relevant(answer, spans):
    for rp in answer.passages:
        if any(s in fold(rp.passage.text) for s in spans):
            return rp.passage
    return None


def test_curated_answers_that_survive_stay_in_the_top_five_with_their_citation(revision, assistant):
    """Every answerable test question today's file answers in the top 5, whose gold span the
    revision still prints, is answered in the top 5 with the same citation: all of them for a
    drawn revision (its headings say the same in other words and numbers), at most 3 % for the
    hand one, whose reworded headings change what the index reads beside a passage ("D.
    Paediatric literature" is "D. Children and adolescents": q190 and q246 lean on it)."""
    name, text, revised = revision
    if name == "unrecoverable":
        pytest.skip("no structure to keep: measured by `ketaqa eval` in the README instead")
    folded = fold(text)
    items = [
        i
        for i in load_questions()
        if i.split == "test" and i.answerable and any(fold(s) in folded for s in i.gold_spans)
    ]
    lost = []
    for item in items:
        spans = [fold(s) for s in item.gold_spans]
        if item.id not in TODAY:
            TODAY[item.id] = first_relevant(assistant.ask(item.question, top_k=5), spans)
        before = TODAY[item.id]
        if before is None:
            continue
        after = first_relevant(revised.ask(item.question, top_k=5), spans)
        if after is None or after.reference_key != before.reference_key:
            lost.append(item.id)
    allowed = int(0.03 * len(items)) if name == "hand" else 0
    assert len(lost) <= allowed, (name, lost)
