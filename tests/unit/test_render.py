"""The app's HTML renderers on plain records parsed from the real statement (no model, no index)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from ketaqa.apps.notice import NOTICE
from ketaqa.apps.ui import render
from ketaqa.config import REPO_ROOT
from ketaqa.pipeline.answering.answer import Answer, RankedPassage
from ketaqa.pipeline.answering.verdict import Verdict, verdict_sentence
from ketaqa.pipeline.answering.view import AnswerView, ShownPassage
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.passages import build_passages, split_sentences
from ketaqa.pipeline.documents.structure import document_citation

CORPUS = REPO_ROOT / "corpus"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def passages(corpus):
    return build_passages(corpus)


@pytest.fixture(scope="module")
def by_id(passages):
    return {p.id: p for p in passages}


@pytest.fixture(scope="module")
def references(corpus):
    return {r.key: r for r in corpus.references}


def ranked(passage, rank: int = 1) -> RankedPassage:
    """The passage as the answerer would rank it, its first sentence highlighted."""
    return RankedPassage(rank, passage, 1.0, split_sentences(passage.text)[0], 1.0)


def shown(answer: Answer, citations: dict[str, str]) -> AnswerView:
    """The answer as `Assistant.ask` returns it, with the given citation on each passage."""
    return AnswerView(
        answer,
        tuple(ShownPassage(rp, citations[rp.passage.id], None, ()) for rp in answer.passages),
    )


def test_footnotes_and_citation_notes_are_shown(passages, by_id, references):
    with_note = next(p for p in passages if p.footnotes)
    rp = RankedPassage(1, with_note, 1.0, (0, 5), 1.0)
    card = render.passage_card(rp, True, by_id, references, "a citation")
    assert html.escape(with_note.footnotes[0].text) in card
    noted = next(
        p
        for p in passages
        if any(references[k].citation_note for k in p.reference_keys if k in references)
    )
    rp = RankedPassage(1, noted, 1.0, (0, 5), 1.0)
    card = render.passage_card(rp, True, by_id, references, "a citation")
    assert "Note on this citation" in card


def test_card_shows_verbatim_passage_citation_links_and_context(passages, by_id, references):
    passage = next(
        p
        for p in passages
        if p.reference_key == "cohen2018" and "contraindication" in p.text.lower() and p.prev_id
    )
    rp = ranked(passage)
    ref = references["cohen2018"]
    card = render.passage_card(rp, True, by_id, references, ref.citation())
    start, end = rp.highlight
    assert f"<mark>{html.escape(passage.text[start:end])}</mark>" in card
    text_only = re.sub(r"<[^>]+>", "", card.split('<div class="passage">', 1)[1].split("</div>")[0])
    assert html.unescape(text_only) == passage.text  # verbatim, nothing added or dropped
    assert html.escape(passage.pages.label()) in card
    assert html.escape(ref.citation()) in card
    assert f"https://doi.org/{ref.doi}" in card
    assert f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/" in card
    assert 'class="cited-in"' in card and ">A-2<" in card
    assert "<details><summary>Context" in card
    assert html.escape(by_id[passage.prev_id].text) in card


def test_answer_escapes_the_question_and_says_first_when_unanswered(passages, by_id, references):
    question = "<script>alert('x')</script> What oral ketamine dose is suggested?"
    chosen = tuple(ranked(p, i) for i, p in enumerate(passages[10:13], start=1))
    citations = {rp.passage.id: "cited" for rp in chosen}
    for verdict in Verdict:
        missing = ("pregnancy",) if verdict is Verdict.NOT_COVERED else ()
        page = render.answer_html(
            shown(Answer(question, verdict, 0.5, missing, chosen), citations), by_id, references
        )
        assert "<script>" not in page
        assert html.escape(question) in page
        assert page.count('<div class="passage">') == len(chosen)
        assert page.count("<mark>") >= len(chosen)
        related = page.count(render.RELATED_BADGE)
        assert related == (0 if verdict is Verdict.ANSWERS else len(chosen))
        sentence = html.escape(verdict_sentence(verdict, missing))
        assert page.index(sentence) < page.index("<article")  # the verdict comes first
    assert "does not mention “pregnancy”" in verdict_sentence(Verdict.NOT_COVERED, ("pregnancy",))
    empty = render.answer_html(
        shown(Answer(question, Verdict.RELATED, 0.0, (), ()), {}), by_id, references
    )
    assert "No passages match these filters." in empty


@pytest.mark.parametrize(
    ("text", "grades"),
    [
        (
            "pain for up to 12 weeks (grade B recommendation, low to moderate level of certainty).",
            ["grade B recommendation, low to moderate level of certainty"],
        ),
        ("there is grade C evidence that ketamine should not", ["grade C evidence"]),
        ("low-back pain (grade D, low level of certainty).", ["grade D, low level of certainty"]),
        (
            "refractory (GRADE: weak recommendation; low evidence)”",
            ["GRADE: weak recommendation; low evidence"],
        ),
        ("recommendations against use based on the GRADE classification", []),
        ("a grade A student and upgrade B", []),
    ],
)
def test_evidence_grades_are_quoted_not_invented(text, grades):
    assert render.evidence_grades(text) == grades
    for g in grades:
        assert g in text


def test_every_graded_passage_gets_a_badge(passages):
    graded = [p for p in passages if "level of certainty" in p.text]
    assert graded
    for p in graded:
        assert render.evidence_grades(p.text), p.text


def test_notice_carries_the_document_date(corpus, passages, references):
    doc_id = render.statement_doc_id(passages)
    doc = next(d for d in corpus.documents if d.doc_id == doc_id)
    citation = document_citation(doc)
    assert render.document_date(citation) == "April 2022"
    notice = render.notice_html(citation, render.abstracts_line(references, passages))
    assert html.escape(NOTICE) in notice and "April 2022" in notice


def test_notice_says_how_many_abstracts_are_indexed(passages, references):
    line = render.abstracts_line(references, passages)
    assert line.startswith("Cited abstracts indexed: 0 of 46 ")
    assert "12 have none by nature" in line


def test_metrics_table_rows():
    metrics = {"hit@1": np.float64(0.5), "recall@5": 0.75, "mrr@10": 0.6, "ndcg@10": 0.65}
    report = {
        "retrievers": {name: dict(metrics) for name in ("bm25", "dense", "full")},
        "answer": {"abstain_accuracy": 0.9, "span_found": {"top1": 0.5}},
    }
    headers, rows = render.metrics_rows(report)
    assert headers == ["retriever", "hit@1", "recall@5", "mrr@10", "ndcg@10"]
    assert rows[0][0] == "bm25" and rows[0][2] == 0.75
    answer = dict(render.flat("", report["answer"]))
    assert answer == {"abstain_accuracy": 0.9, "span_found.top1": 0.5}


def test_source_evidence_is_shown_beside_the_statement_escaped():
    evidence = [
        {
            "pmid": "90000021",
            "label": "CONCLUSIONS",
            "text": "did <not> prevent",
            "reference_key": "k",
        },
        {"pmid": None, "label": None, "text": "plain", "reference_key": "other2020"},
    ]
    out = render.source_evidence_html(evidence)
    assert "What the source says" in out
    assert "CONCLUSIONS" in out and "PMID 90000021" in out and "did &lt;not&gt; prevent" in out
    assert "ABSTRACT" in out and "other2020" in out
    assert render.source_evidence_html([]) == ""


def test_source_markup_is_rendered_and_every_character_kept():
    from ketaqa.text import source_html

    text = "Orhurhu V. Ketamine. *Anesth Analg* 2019. - C-1.** (a) Noppers. [11] [SEP]” (p. 537)"
    page = source_html(text, (0, len(text)))
    assert "<em " in page and ">Anesth Analg</em>" in page
    assert page.count('class="artefact"') == 2  # the stray ** and [SEP]
    assert "source file" in page
    assert html.unescape(re.sub(r"<[^>]+>", "", page)) == text  # verbatim, markers kept hidden
    assert '<span class="src-mark" hidden>*</span>' in page


def test_each_citation_is_shown_once_and_chips_link_to_the_item(passages, by_id, references):
    cohen = [p for p in passages if p.reference_key == "cohen2018"][:3]
    chosen = tuple(ranked(p, i) for i, p in enumerate(cohen, start=1))
    citation = references["cohen2018"].citation()
    page = render.answer_html(
        shown(
            Answer("q?", Verdict.ANSWERS, 0.9, (), chosen),
            {rp.passage.id: citation for rp in chosen},
        ),
        by_id,
        references,
        actions=True,
    )
    assert page.count(html.escape(citation)) == 1
    assert page.count('same source as <a href="#card-1">[1]</a>') == 2
    target = re.search(r'<a class="where" href="#([^"]+)">A-2</a>', page).group(1)
    assert f'id="{target}"' in page
    assert page.count('data-action="save"') == len(chosen)
    assert "confidence" not in page.lower()


def test_banner_has_no_maintainer_command_and_the_about_panel_does(passages, references):
    notice = render.notice_html("A citation. April 2022")
    assert "ketaqa abstracts" not in notice and "`" not in notice
    about = render.about_corpus_html(render.abstracts_line(references, passages), False)
    assert "<code>ketaqa abstracts fetch</code>" in about and "`" not in about
    assert "<code>" not in render.about_corpus_html("all there", True)
