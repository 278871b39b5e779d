"""The bibliography-entry prior and the title on the real index (fusion and the priors on
hand-made score lists: tests/unit/test_fusion.py)."""

from __future__ import annotations

import pytest

from ketaqa.pipeline.search.priors import apply_entry_prior
from ketaqa.pipeline.search.question_form import asks_for_citation

pytestmark = pytest.mark.slow  # the real index, with the embedding model


def test_entry_prior_applies_only_to_bibliography_entries(assistant):
    passages = assistant.index.passages
    entry = next(i for i, p in enumerate(passages) if p.kind == "entry")
    other = next(i for i, p in enumerate(passages) if p.kind == "bullet")
    fused = {entry: 1.0, other: 1.0}
    clinical = apply_entry_prior(
        assistant.retriever.kinds, fused, asks_for_citation("Does it help CRPS?"), 0.5
    )
    assert clinical == {entry: 0.5, other: 1.0}
    lookup = apply_entry_prior(
        assistant.retriever.kinds, fused, asks_for_citation("Which journal published it?"), 0.5
    )
    assert lookup == fused
    # the title names this document: it answers no look-up of a paper either
    title = next(i for i, p in enumerate(passages) if p.kind == "title")
    lookup = apply_entry_prior(
        assistant.retriever.kinds, {title: 1.0}, asks_for_citation("Which paper is it?"), 0.5
    )
    assert lookup == {title: 0.5}


def test_title_is_not_an_answer_to_a_clinical_question(assistant):
    answer = assistant.ask("What does the statement say about ketamine for phantom limb pain?")
    assert all(rp.passage.kind != "title" for rp in answer.passages[:3])
    assert "phantom limb pain" in answer.passages[0].highlight_text
