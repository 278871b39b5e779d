"""Ranking priors: concept coverage, and the statement before the bibliography for a clinical
question."""

from __future__ import annotations

import pytest

from ketaqa.pipeline.search.priors import (
    apply_coverage_prior,
    entries_after_statement,
    term_postings,
)
from ketaqa.pipeline.search.reading import QueryAnalysis

# two real bullets, as the index tokenises them (stemmed)
TOKENS = [
    ["signific", "more", "aes", "incl", "one", "sae", "ketamin", "gr"],  # Lumanauw 2019
    ["ketamin", "dose", "depend", "advers", "effect", "avoid", "high", "dose"],  # Bell 2018
]
SIDE_EFFECTS = (frozenset({"advers", "effect"}), frozenset({"aes"}))  # two readings
DOSE_RELATED = (frozenset({"dose", "depend"}),)


def test_the_passage_stating_every_concept_gains_most():
    fused = {0: 0.6, 1: 0.5}  # the short bullet leads before the prior
    out = apply_coverage_prior(term_postings(TOKENS), fused, [SIDE_EFFECTS, DOSE_RELATED], 2.0)
    assert out[0] == pytest.approx(0.6 * (1 + 2.0 * 1 / 2))  # states "AEs" only
    assert out[1] == pytest.approx(0.5 * (1 + 2.0 * 2 / 2))  # states both
    assert out[1] > out[0]


def test_a_reading_counts_only_when_all_its_terms_are_there():
    fused = {0: 1.0, 1: 1.0}
    half = (frozenset({"dose", "respons"}),)  # Bell says "dose", never "response"
    assert apply_coverage_prior(term_postings(TOKENS), fused, [half], 2.0) == fused


def test_no_weight_or_no_concepts_changes_nothing():
    fused = {0: 0.6, 1: 0.5}
    postings = term_postings(TOKENS)
    assert apply_coverage_prior(postings, fused, [SIDE_EFFECTS], 0.0) == fused
    assert apply_coverage_prior(postings, fused, [], 2.0) == fused


def test_a_clinical_question_never_puts_an_entry_above_the_statement():
    kinds = ["entry", "bullet", "entry"]
    fused = {0: 1.4, 1: 1.2, 2: 0.5}
    capped = entries_after_statement(
        kinds, fused, QueryAnalysis.plain("ketamine CRPS").keeps_entries
    )
    assert capped[0] < capped[1] and capped[2] == 0.5  # capped just below; lower ones kept
    # a look-up of a publication, or a question naming a kind of one, is left as ranked
    for question in ("Who wrote the CRPS trial?", "which 2009 study of ketamine in CRPS"):
        keep = QueryAnalysis.plain(question).keeps_entries
        assert entries_after_statement(kinds, fused, keep) == fused


def test_a_question_wanting_a_figure_favours_passages_that_carry_one():
    from ketaqa.pipeline.search.priors import apply_answer_type_prior
    from ketaqa.pipeline.search.question_form import answer_type, passage_answer_types

    assert answer_type("how many RCTs did Orhurhu include") == "figure"
    assert answer_type("size of each trial in the 2019 MA") == "figure"
    assert answer_type("when was the statement last reviewed") == "date"
    assert answer_type("is ketamine safe in psychosis") == ""
    carries = [
        passage_answer_types("Cochrane-style SR and meta-analysis"),
        passage_answer_types("696 studies screened; 7 included"),
        passage_answer_types("Date of Current Document: April 2022"),
    ]
    fused = {0: 1.0, 1: 0.9, 2: 0.5}
    boosted = apply_answer_type_prior(carries, fused, ("figure",), 1.3)
    assert boosted[1] > boosted[0] and boosted[2] == 0.5 * 1.3
    assert apply_answer_type_prior(carries, fused, (), 1.3) == fused
    assert apply_answer_type_prior(carries, fused, ("date",), 1.3) == {0: 1.0, 1: 0.9, 2: 0.65}


def test_a_question_about_the_document_itself_reaches_its_contents_and_back_matter():
    from ketaqa.pipeline.search.priors import apply_answer_type_prior, apply_entry_prior
    from ketaqa.pipeline.search.question_form import (
        DOCUMENT,
        about_this_document,
        passage_answer_types,
    )

    # read from how the question points at the document, never from its topic
    assert about_this_document("is this ket doc a PS or a guideline??")
    assert about_this_document("According to the contents list, what page does Section II start")
    assert about_this_document("does this PS apply to cancer pain pts?")
    assert about_this_document("when was this ketamine statement first put out?")
    assert not about_this_document("What does the statement say about ketamine in psychosis?")
    assert not about_this_document(
        "which page of the Cohen guideline has the 80 mg dose"
    )  # a paper
    # the contents, and a top-level section about the document however it is worded, carry it
    assert DOCUMENT in passage_answer_types("CONTENTS Section I. Page 2", "contents")
    assert DOCUMENT in passage_answer_types("Promulgated: 2016", "paragraph", "About this document")
    assert DOCUMENT not in passage_answer_types(
        "Ketamine is an NMDA antagonist", "paragraph", "Appendix 1"
    )
    kinds = ["paragraph", "contents", "title"]
    fused = {0: 1.0, 1: 0.9, 2: 0.8}
    # a clinical question halves the contents and title; a question about the document keeps
    # the contents, and the title (whose words match any question naming the statement) stays
    assert apply_entry_prior(kinds, fused, False, 0.5) == {0: 1.0, 1: 0.45, 2: 0.4}
    assert apply_entry_prior(kinds, fused, False, 0.5, about_document=True) == {
        0: 1.0,
        1: 0.9,
        2: 0.4,
    }
    carries = [
        passage_answer_types(t, k) for t, k in (("prose", "paragraph"), ("Page 2", "contents"))
    ]
    both = apply_answer_type_prior(carries, {0: 1.0, 1: 1.0}, ("figure", DOCUMENT), 1.3)
    assert both[1] == pytest.approx(1.3 * 1.3) and both[0] == 1.0


def test_a_question_about_one_patient_always_reaches_a_listed_contraindication():
    from ketaqa.pipeline.search.priors import contraindication_within_reach
    from ketaqa.pipeline.search.question_form import about_one_patient

    assert about_one_patient("pt on ice most wkends wants q-monthly ketamine IVIs, go ahead?")
    assert about_one_patient("A 27-year-old woman with fibromyalgia ... Is ketamine reasonable?")
    assert not about_one_patient("What are the contraindications to ketamine infusions?")
    assert not about_one_patient("Which patients should be considered for ketamine?")
    # a relative or a client asked about by a carer or a therapist (phrasings written here)
    assert about_one_patient("my wife smokes crack sometimes - can she still have ketamine?")
    assert about_one_patient("Our son has CRPS; would ketamine be offered to a teenager?")
    assert not about_one_patient("my ketamine infusion list for tomorrow")
    fused = {0: 1.0, 1: 0.9, 2: 0.8, 3: 0.7, 9: 0.1}
    lifted = contraindication_within_reach([9], fused, True)
    assert sorted(lifted, key=lifted.get, reverse=True)[:3] == [0, 1, 9]  # third, no higher
    assert contraindication_within_reach([9], fused, False) == fused
    assert contraindication_within_reach([1], fused, True) == fused  # already within reach
    absent = contraindication_within_reach([7], fused, True)  # not even a candidate
    assert sorted(absent, key=absent.get, reverse=True)[2] == 7


def test_asked_whether_to_give_it_to_one_patient_the_contraindication_comes_first():
    """The form of the ask, not the condition's name, decides: "is he a reasonable candidate?"
    is answered by the list of contraindications; "what rate was used?" is not."""
    from ketaqa.pipeline.search.priors import contraindication_within_reach
    from ketaqa.pipeline.search.question_form import asks_whether_to_treat

    assert asks_whether_to_treat(
        "61M with heart failure booked for ketamine - reasonable candidate?"
    )
    assert asks_whether_to_treat(
        "23F, blocked shunt. Ketamine suggested. What does the statement advise?"
    )
    assert asks_whether_to_treat("pt snorting special K most weekends - ok for ket infusions?")
    assert not asks_whether_to_treat("A 16-year-old boy: what rate of ketamine did the cohort use?")
    assert not asks_whether_to_treat("Is ketamine safe in patients with liver disease?")  # no one
    # a whether-word qualifying the thing a clause asks for asks what, not whether
    assert not asks_whether_to_treat(
        "45M had a 5-day ketamine infusion; benefit wore off at 5 weeks. "
        "What duration is proposed as reasonable after an inpatient course?"
    )
    assert asks_whether_to_treat("58F on ketamine: what is the evidence, and is it safe for her?")
    fused = {0: 1.0, 1: 0.9, 2: 0.8, 3: 0.7, 9: 0.1}
    first = contraindication_within_reach([9], fused, True, whether_to_treat=True)
    assert max(first, key=first.get) == 9
    assert contraindication_within_reach([9], fused, False, whether_to_treat=True) == fused
    # a corpus small enough to give fewer candidates than the rank: nothing to lift it above
    assert contraindication_within_reach([9], {9: 1.0}, True, whether_to_treat=True) == {9: 1.0}
    few = {0: 1.0, 9: 0.5, 1: 0.4}
    assert contraindication_within_reach([9], few, True) == few


def test_a_study_named_by_author_and_year_ranks_its_own_passages_first():
    from ketaqa.pipeline.search.priors import apply_study_prior, studies_in_heading, years_typed

    # headings cut from the statement's section paths
    studies = [
        studies_in_heading(("Section I", "C. pre-2011 reports", "C-2 Bell 2009")),
        studies_in_heading(("Section I", "A. Recent reviews", "A-3 Bell 2018")),
        studies_in_heading(
            ("Section I", "C. pre-2011 reports", "C-1 Noppers 2010 / Niesters 2014")
        ),
        studies_in_heading(("Section I", "A. Recent reviews")),
    ]
    assert studies[2] == {("noppers", "2010"), ("niesters", "2014")}
    assert studies[3] == frozenset()
    assert years_typed("bell kalso 2018 verdict") == {"2018"}
    assert {"2009"} <= years_typed("bell 09 - how many trials")
    fused = {0: 1.0, 1: 0.9, 2: 0.8, 3: 0.95}
    words = frozenset({"bell", "kalso", "verdict"})
    ranked = apply_study_prior(studies, fused, words, years_typed("bell kalso 2018"), 1.2)
    assert max(ranked, key=ranked.get) == 1  # author and year: A-3 Bell 2018
    assert ranked[0] == pytest.approx(1.2) and ranked[3] == 0.95  # author only; no study
    assert apply_study_prior(studies, fused, frozenset({"ketamine"}), frozenset(), 1.2) == fused


def test_a_footnote_named_by_its_number_ranks_first():
    """ "fn 4" points at the passage filed under Footnote 4: its number is in the heading, never
    in the text. Headings cut from the statement's section paths; phrasings written for this
    test."""
    from ketaqa.pipeline.search.priors import (
        apply_footnote_prior,
        footnote_in_heading,
        footnotes_typed,
    )

    footnotes = [
        footnote_in_heading(("Section I", "A. Recent reviews", "A-2 Cohen 2018")),
        footnote_in_heading(("Section I", "A. Recent reviews", "A-2 Cohen 2018", "Footnote 4")),
        footnote_in_heading(("Section I", "Footnote 1")),
    ]
    assert footnotes == ["", "4", "1"]
    assert footnotes_typed("fn 4: which guideline questions were left out?") == {"4"}
    assert footnotes_typed("what does footnote 1 cite") == {"1"}
    assert footnotes_typed("foot note 3 caveat? and fn2") == {"3", "2"}
    assert footnotes_typed("4 footnotes in the paper") == frozenset()
    fused = {0: 1.0, 1: 0.8, 2: 0.9}
    ranked = apply_footnote_prior(footnotes, fused, footnotes_typed("fn 4 - which Qs omitted"), 1.5)
    assert max(ranked, key=ranked.get) == 1
    assert ranked[0] == 1.0 and ranked[2] == 0.9
    assert apply_footnote_prior(footnotes, fused, frozenset(), 1.5) == fused
