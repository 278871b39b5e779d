"""Verdicts on the questions clinicians type: safety first.

The contraindication questions are fresh phrasings written for this test (not items of the
evaluation set): each contraindication of A-2 (ii), asked three ways, in lay words,
abbreviations and shorthand, must be answered with its passage first.
"""

import pytest

from ketaqa.pipeline.answering.verdict import Verdict
from ketaqa.pipeline.search.priors import PRIOR_KINDS
from ketaqa.pipeline.search.reading import without

pytestmark = pytest.mark.slow  # every test here loads the embedding model

CONTRAINDICATIONS = {
    "poorly controlled psychoses": (
        "can I give ketamine to someone with schizophrenia?",
        "ketamine + psychotic illness",
        "bipolar with psychosis, ketamine infusion ok?",
    ),
    "poorly controlled cardiovascular disease": (
        "ketamine in poorly controlled heart disease",
        "uncontrolled hypertension ketamine infusion?",
        "pt with unstable angina for ketamine",
    ),
    "For hepatic dysfunction": (
        "severe liver failure and ketamine",
        "ketamine for a cirrhotic patient",
        "deranged LFTs moderate liver disease ketamine?",
    ),
    "elevated intracranial and intraocular pressure": (
        "raised intracranial pressure ketamine",
        "head injury with high ICP - ketamine?",
        "glaucoma patient ketamine infusion",
        "raised IOP ketamine",
    ),
    "What are the contraindications for ketamine infusions": (
        "who shouldnt get ketamine",
        "who should not be given ketamine infusions?",
    ),
    "active substance abuse problem": (
        "active drug addiction and ketamine infusions",
        "IVDU pt for a ketamine series",
        "current substance misuse, repeat ketamine?",
        "she uses cocaine most weekends, ketamine infusions ok?",
        "methamphetamine use and serial ketamine",
    ),
}

# Case questions: the patient's other details (the pain condition, the history) must not push
# the contraindication below the passage about the condition. Written for this test.
CASES = {
    "poorly controlled psychoses": (
        "Woman of 45 with CRPS of the foot after an ankle fracture; she has schizophrenia and "
        "stopped her antipsychotic last month. Can we book a ketamine infusion?"
    ),
    "active substance abuse problem": (
        "28M with phantom limb pain after a below-knee amputation, currently injecting heroin. "
        "He wants a course of ketamine infusions."
    ),
}


@pytest.mark.parametrize(
    ("span", "question"),
    [(span, q) for span, questions in CONTRAINDICATIONS.items() for q in questions],
)
def test_every_contraindication_is_answered_with_its_passage_first(assistant, span, question):
    answer = assistant.ask(question, top_k=5)
    assert answer.verdict is Verdict.ANSWERS, (question, answer.confidence)
    assert span in answer.passages[0].passage.text, answer.passages[0].passage.text[:80]


@pytest.mark.parametrize(("span", "question"), list(CASES.items()))
def test_a_case_naming_a_contraindication_puts_it_first(assistant, span, question):
    answer = assistant.ask(question, top_k=5)
    assert answer.verdict is Verdict.ANSWERS, answer.confidence
    assert span in answer.passages[0].passage.text, answer.passages[0].passage.text[:80]


def test_a_topic_the_statement_never_mentions_is_named(assistant):
    answer = assistant.ask("Is ketamine safe in pregnancy?", top_k=3)
    assert answer.verdict is Verdict.NOT_COVERED
    assert answer.missing_concepts == ("pregnancy",)
    assert answer.passages  # the nearest passages are still shown, as related


@pytest.mark.parametrize(
    "question",
    [
        "ketamine dose for treatment resistant depression",
        "ketamine dose adjustment for dialysis patients",
        "is ketamine safe while breastfeeding",
        "is IV magnesium a useful NMDA antagonist for CRPS",
        # another drug in the place of ketamine: every other word is covered, and the trees
        # fitted on the retired fresh batches answered these (a missing word there is as often
        # shorthand or a typo as a drug). A drug dictionary names them drugs the statement
        # never mentions (`indexing.drugs`), so the statement does not cover them.
        "lignocaine infusion rate for neuropathic pain",
        "ketamine with fluoxetine - interaction?",
    ],
)
def test_near_misses_are_not_answered(assistant, question):
    assert assistant.ask(question, top_k=5).verdict is not Verdict.ANSWERS


def test_a_verdict_never_rests_on_a_bibliography_entry(assistant):
    """For a clinical question the evidence passages exclude entries, citation headings, the
    title and the contents; a look-up of a publication may rest on them."""
    analysis, hits, _ = assistant.retrieve("ketamine for depression", 10)
    evidence = assistant.answerer.evidence(hits, analysis)
    assert evidence and all(assistant.index.passages[i].kind not in PRIOR_KINDS for i in evidence)
    analysis, hits, _ = assistant.retrieve("Which paper reported antidepressant effects?", 10)
    assert analysis.lookup
    evidence = assistant.answerer.evidence(hits, analysis)
    assert any(assistant.index.passages[i].kind == "entry" for i in evidence)
    # a question about the document itself is answered by its contents
    question = "According to the contents list, what page does Section II start on?"
    analysis, hits, _ = assistant.retrieve(question, 10)
    assert analysis.about_document
    evidence = assistant.answerer.evidence(hits, analysis)
    assert assistant.index.passages[evidence[0]].kind == "contents"


def test_a_terse_clinical_question_shows_the_statement_before_the_bibliography(assistant):
    """ "ketamine CRPS" shares every word with a CRPS trial's title; the statement's own passage
    comes first and the entry stays below it as a related reference. A question naming a kind
    of publication ("which ... trial") may still put the entry first."""
    passages = assistant.ask("ketamine CRPS", top_k=5).passages
    assert passages[0].passage.kind != "entry"
    assert "For CRPS, there is moderate evidence" in passages[0].passage.text
    assert any(rp.passage.kind == "entry" for rp in passages)
    lookup = assistant.ask("Which trial of ketamine in CRPS type 1 reported long-term relief?")
    assert lookup.passages[0].passage.kind == "entry"


def test_paediatric_questions_rank_the_paediatric_rate_first(assistant):
    answer = assistant.ask("paeds ketamine infusion rate mg/kg/h", top_k=3)
    assert "0.1–0.3 mg/kg/h" in answer.passages[0].passage.text


def test_json_carries_the_verdict_and_missing_concepts(assistant):
    data = assistant.ask("ketamine in pregnancy and breastfeeding", top_k=2).to_json()
    assert data["verdict"] == "not_covered" and data["answerable"] is False
    assert set(data["missing_concepts"]) == {"pregnancy", "breastfeeding"}
    data = assistant.ask("raised ICP ok?", top_k=2).to_json()
    assert data["verdict"] == "answers" and data["answerable"] is True
    assert data["missing_concepts"] == []


def test_a_missing_concept_weighs_by_how_much_the_question_rests_on_it(assistant):
    """Salience: dropping "lidocaine" moves the question's meaning far more than dropping a
    stray word of an answerable question ("colleagues")."""
    near_miss, _, _ = assistant.retrieve("lidocaine infusion rate for neuropathic pain", 10)
    answerable, _, _ = assistant.retrieve("what infusion rates did Kapural and workmates use", 10)
    assert "lidocaine" in near_miss.missing_concepts
    assert near_miss.missing_salience > 2 * answerable.missing_salience


def test_a_case_historys_salience_is_measured_on_its_ask(assistant):
    """A vignette's telling word moves its ask as much as it moves a one-line question, and
    that is what is measured (the ask and the ask without it, from one encoder batch)."""
    case = (
        "A 31-year-old woman with CRPS of her left foot is 14 weeks pregnant. Gabapentin and "
        "physiotherapy have not helped and a ketamine infusion has been offered. "
        "Is ketamine safe during pregnancy?"
    )
    reading, _, _ = assistant.retrieve(case, 10)
    ask, without_it = assistant.encoder.encode(
        ["is ketamine safe during pregnancy?", "is ketamine safe during ?"]
    )
    assert reading.missing_salience == pytest.approx(1.0 - float(ask @ without_it), abs=1e-4)
    history, history_without = assistant.encoder.encode(
        [reading.search_text, without(reading.search_text, "pregnancy")]
    )
    assert reading.missing_salience > 2 * (1.0 - float(history @ history_without))


@pytest.mark.parametrize(
    "question",
    [
        "level of evidence ketamine PHN",
        "ketamine for migraine - evidence?",
        "low back pain ketamine any evidence",
        "is there evidence for ketamine in fibromyalgia",
    ],
)
def test_evidence_questions_rank_the_graded_bullet_first(assistant, question):
    """Not yet for "phantom limb pain ketamine evidence" spelled out: the (i) paragraph
    that spells it out too still comes first (a known failure, see the closing note)."""
    answer = assistant.ask(question, top_k=3)
    assert "weak or no evidence" in answer.passages[0].passage.text


def test_a_stated_contraindication_is_answered_whatever_the_model_says(assistant):
    """The rule above the fitted model: even a model that never says "answers" cannot tell a
    clinician that the statement is silent on a contraindication it lists first."""
    from dataclasses import replace

    answerer = assistant.answerer
    saved = answerer.model
    answerer.model = replace(saved, threshold=1.01)
    try:
        assert assistant.ask("bipolar with psychosis, ketamine ok?").verdict is Verdict.ANSWERS
        assert assistant.ask("ketamine for CRPS").verdict is not Verdict.ANSWERS
    finally:
        answerer.model = saved


@pytest.mark.parametrize(
    "question",
    [
        # written for this test: each condition named in words the statement never uses
        "My patient smokes crystal meth most nights and has phantom limb pain. Is a ketamine "
        "infusion series reasonable for him?",
        "Woman of 39 with CRPS of the hand who has a schizoaffective disorder, off her "
        "medication for two months. Should she have ketamine?",
    ],
)
def test_a_patients_contraindication_read_by_meaning_is_answered(assistant, question):
    """A patient's condition in the clinician's own words ("crystal meth", "schizoaffective"),
    read by meaning as a listed contraindication whose passage comes first, is answered even by
    a model that never says "answers"; the same words outside a patient's question are not read
    as a contraindication named (a meaning read is looser than a word the statement uses)."""
    from dataclasses import replace

    answerer = assistant.answerer
    saved = answerer.model
    answerer.model = replace(saved, threshold=1.01)
    try:
        answer = assistant.answer(question)
        assert answer.verdict is Verdict.ANSWERS, answer.confidence
        assert "should not" in answer.passages[0].passage.text
        assert assistant.answer("crystal meth and ketamine").verdict is not Verdict.ANSWERS
    finally:
        answerer.model = saved


def test_a_frequency_the_statement_never_gives_is_related_not_answered(assistant):
    """ "How often" finds the passage on the topic (hepatic dysfunction, monitoring), which
    states no interval: shown as related, never as an answer, and never as "not covered",
    even where the passage is a contraindication's. A frequency it does give is answered.
    Phrasings written for this test."""
    answer = assistant.answer("how frequently should liver function be checked on ketamine?")
    assert answer.verdict is Verdict.RELATED, answer.confidence
    assert "hepatic dysfunction" in answer.passages[0].passage.text
    answer = assistant.answer(
        "paeds low-dose ketamine infusions: how often was there oversedation?"
    )
    assert answer.verdict is Verdict.ANSWERS, answer.confidence
    assert "over-sedation [7.4%]" in answer.passages[0].passage.text


def test_an_identifier_the_statement_never_gives_is_related_not_answered(assistant):
    """A look-up of a PMID the statement does not give finds the study's item, which has none:
    related. One it gives is answered. Phrasings written for this test."""
    answer = assistant.answer("pubmed id of the orhurhu 2019 meta-analysis of infusions")
    assert answer.verdict is Verdict.RELATED, answer.confidence
    answer = assistant.answer("masaracchia 2019 children's ketamine infusions - pubmed id?")
    assert answer.verdict is Verdict.ANSWERS, answer.confidence
    assert "31313291" in answer.passages[0].passage.text


def test_authors_the_document_never_names_are_related_not_answered(assistant):
    """Who wrote this statement: its document parts name no persons, so they are related.
    Who wrote a cited paper is still answered by its entry. Phrasings written for this test."""
    answer = assistant.answer("Which individuals authored this FPM background paper on ketamine?")
    assert answer.verdict is Verdict.RELATED, answer.confidence
    answer = assistant.answer(
        "who authored the Lancet Neurology 2015 review of drugs for neuropathic pain?"
    )
    assert answer.verdict is Verdict.ANSWERS, answer.confidence
    assert "Finnerup" in answer.passages[0].passage.text


def test_a_figure_asked_of_a_paper_its_entry_only_names_is_related(assistant):
    """An entry gives a paper's authors, title, journal and year, not the dose it gave: a figure
    asked of a listed paper finds the entry and is related, never answered. An entry whose
    title carries the figure answers it, and one asked for by which paper it is answers too.
    Phrasings written for this test."""
    answer = assistant.answer(
        "The bibliography lists a trial of low-dose intraoperative ketamine against "
        "remifentanil-induced morphine requirement in children. What ketamine dose did it give?"
    )
    assert answer.verdict is Verdict.RELATED, answer.confidence
    assert answer.passages[0].passage.text.startswith("Engelhardt T")
    answer = assistant.answer(
        "bibliography's oral ketamine series in intractable pain: how many patients were followed?"
    )
    assert answer.verdict is Verdict.ANSWERS, answer.confidence
    assert "51 patients" in answer.passages[0].passage.text
    answer = assistant.answer(
        "Which 1999 paper by Bell looked at low-dose subcutaneous ketamine and morphine tolerance?"
    )
    assert answer.verdict is Verdict.ANSWERS, answer.confidence
