"""The verdict: three levels, a fitted model stored as numbers, and its calibration."""

import json
from dataclasses import replace

import pytest

from ketaqa.pipeline.answering.verdict import (
    SIGNALS,
    Verdict,
    VerdictModel,
    choose_threshold,
    decide,
    expected_calibration_error,
    fit_verdict_model,
    verdict_sentence,
)


def test_not_covered_needs_a_missing_concept():
    """A question whose concepts the statement all mentions is at worst `related`."""
    assert decide(0.9, 0.5, ()) is Verdict.ANSWERS
    assert decide(0.9, 0.5, ("pregnancy",)) is Verdict.ANSWERS
    assert decide(0.1, 0.5, ()) is Verdict.RELATED
    assert decide(0.1, 0.5, ("pregnancy",)) is Verdict.NOT_COVERED


def test_sentences_state_facts_about_the_statement():
    assert "does not mention “pregnancy” or “breastfeeding”" in verdict_sentence(
        Verdict.NOT_COVERED, ("pregnancy", "breastfeeding")
    )
    assert "no passage answers" in verdict_sentence(Verdict.RELATED, ())
    assert verdict_sentence(Verdict.ANSWERS, ()).startswith("The statement answers this")


def test_threshold_keeps_false_abstention_within_the_bound():
    probs = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.65]
    labels = [True, True, True, True, False, False, False, True]
    t = choose_threshold(probs, labels, 0.0)
    assert all(p >= t for p, y in zip(probs, labels, strict=True) if y)
    assert t == 0.6  # as high as the bound allows: it abstains on every unanswerable here


def synthetic_dev(signals_of) -> tuple[list[dict[str, float]], list[bool]]:
    """Forty rows, every other one answerable, with the signals `signals_of(i, answerable)`
    sets and zero elsewhere."""
    rows = [dict(dict.fromkeys(SIGNALS, 0.0), **signals_of(i, i % 2 == 0)) for i in range(40)]
    return rows, [i % 2 == 0 for i in range(40)]


GROUPS = [f"batch-{i % 5}" for i in range(40)]  # out-of-fold groups for the synthetic rows


def test_a_fitted_model_round_trips_and_separates(tmp_path):
    rows, labels = synthetic_dev(
        lambda i, answerable: {
            "coverage_top3": 0.8 if answerable else 0.2 + (i % 5) / 100,
            "missing_specific": 0.0 if answerable else 1.0,
            "sentence_closeness": 0.6 + (i % 3) / 10,
        }
    )
    model = fit_verdict_model(rows, labels, GROUPS, "synthetic", 0.0)
    path = tmp_path / "verdict_model.json"
    model.save(path)
    loaded = VerdictModel.load(path)
    assert loaded == model
    answerable = [loaded.probability(r) for r, y in zip(rows, labels, strict=True) if y]
    unanswerable = [loaded.probability(r) for r, y in zip(rows, labels, strict=True) if not y]
    assert min(answerable) > 0.5 > max(unanswerable)
    # the threshold is chosen out of fold, where the bound 0.0 holds for every answerable row
    assert loaded.threshold <= min(answerable)


def test_a_long_case_history_cannot_push_the_model_past_what_dev_showed():
    """Fifteen words the statement never mentions, in a four-sentence vignette, say no more
    than the most the dev split had: a tree splits only between values it was fitted on, so
    nothing extrapolates a long question into certainty."""
    rows, labels = synthetic_dev(
        lambda i, answerable: {
            "coverage_top3": 0.8 if answerable else 0.3 + (i % 5) / 100,
            "missing_share": 0.1 if answerable else 0.5,
            "missing_count": float(i % 3) if answerable else 1.0 + i % 2,
        }
    )
    model = fit_verdict_model(rows, labels, GROUPS, "synthetic", 0.0)
    at_edge = dict(rows[0], missing_count=2.0)
    vignette = dict(rows[0], missing_count=15.0)
    assert model.probability(vignette) == pytest.approx(model.probability(at_edge))


def test_a_model_fitted_on_other_signals_is_not_used(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(
        '{"signals": ["x"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0,'
        ' "threshold": 0.5}'
    )
    assert VerdictModel.load(path) is None
    assert VerdictModel.load(tmp_path / "absent.json") is None
    # the right signals in an earlier model's form (a logistic regression): refitted, not misread
    zeros = [0.0] * len(SIGNALS)
    old = {"signals": list(SIGNALS), "mean": zeros, "scale": zeros, "coef": zeros}
    path.write_text(json.dumps({**old, "intercept": 0.0, "threshold": 0.5, "inputs": "log"}))
    assert VerdictModel.load(path) is None
    # the right form fitted on other signals: refitted too
    rows, labels = synthetic_dev(lambda i, answerable: {"coverage_top3": float(answerable)})
    model = fit_verdict_model(rows, labels, GROUPS, "synthetic", 0.0)
    path.write_text(model.to_json().replace('"coverage_top3"', '"coverage_top9"'))
    assert VerdictModel.load(path) is None


def test_calibration_error_is_zero_when_probabilities_are_frequencies():
    probs = [0.25] * 4 + [0.75] * 4
    labels = [True, False, False, False, True, True, True, False]
    ece, bins = expected_calibration_error(probs, labels)
    assert ece == pytest.approx(0.0)
    assert [b["n"] for b in bins] == [4, 4]


def test_a_paper_only_listed_is_said_to_be_listed_not_reported():
    sentence = verdict_sentence(Verdict.RELATED, (), ("marchetti",))
    assert "Marchetti" in sentence and "only in its bibliography" in sentence
    # an answer is never reworded by it
    assert verdict_sentence(Verdict.ANSWERS, (), ("marchetti",)).startswith("The statement answers")


def test_a_dose_is_asked_by_the_form_and_given_as_an_amount_of_drug():
    """ "What clonidine dose" wants an amount, which a passage gives as "0.5 mg/kg" or "80 mg";
    the passage that names clonidine among co-administered drugs does not answer it. Read from
    a case history's ask: a history that names the patient's own doses asks none. Phrasings
    written for this test; passages cut from the statement."""
    from ketaqa.pipeline.search.question_form import DOSE, kinds_asked, kinds_given

    for question in (
        "what clonidine dose was run alongside the infusions?",
        "ketamine dose for CRPS",
        "usual starting dosing of oral ketamine?",
        "how many mg of midazolam before the infusion?",
    ):
        assert DOSE in kinds_asked(question), question
    for question in (
        "Is it better to give higher ketamine doses for longer?",
        "which page says dose and duration varied too much?",
        "are side effects dose-related?",
        "should we premedicate before starting a low-dose ketamine infusion?",  # a modifier
    ):
        assert DOSE not in kinds_asked(question), question
    history = "He takes oxycodone 20 mg twice daily and pregabalin 150 mg."
    assert DOSE not in kinds_asked(
        f"{history} Is a ketamine infusion safe for him?",
        ask="Is a ketamine infusion safe for him?",
    )
    assert DOSE in kinds_asked(
        f"{history} What ketamine dose should he start on?",
        ask="What ketamine dose should he start on?",
    )

    assert DOSE in kinds_given("0.5 mg/kg ketamine, 0.25mg/kg ketamine, or placebo")
    assert DOSE in kinds_given("a minimum dose of 80 mg lasting more than 2 hours")
    assert DOSE in kinds_given("Infusion rate. 0.1-0.5mg/kg/hr.")
    assert DOSE not in kinds_given(
        "Ketamine was co-administered with midazolam, clonidine, or both in some studies"
    )


def test_a_value_in_a_unit_is_asked_without_a_number_and_given_with_one():
    """ "The cut-off in mmHg", "target level (ng/mL)" want a number in that unit, which a passage
    must carry; "a reading of 27 mmHg" gives the patient's own and asks none. Phrasings written
    for this test; the passage cut from the statement."""
    from ketaqa.pipeline.search.question_form import kinds_asked, kinds_given

    assert "value in mmHg" in kinds_asked("Above which IOP in mmHg is ketamine avoided?")
    assert "value in ng/mL" in kinds_asked("target plasma ketamine level (ng/mL)?")
    assert "value in mmol/L" in kinds_asked("what sodium in mmol/L rules out an infusion?")
    history = "Her eye pressures were 34 and 36 mmHg last week."
    ask = "Is ketamine safe for her?"
    assert kinds_asked(f"{history} {ask}", ask=ask) == ()
    assert "value in mmHg" not in kinds_asked("IOP 32 mmHg - ketamine ok?")
    assert "value in mmHg" in kinds_given("avoid if the IOP is above 30 mmHg")
    assert "value in mmHg" not in kinds_given(
        "In patients with elevated intracranial and intraocular pressure, there is grade C "
        "evidence that ketamine should not be used or used only in lower dosages"
    )


def test_a_frequency_or_an_identifier_is_asked_by_the_form_and_given_visibly():
    """ "How often" wants a rate, an interval or a share; "the PMID of" an identifier. A passage
    that shares the topic's words but carries neither does not answer
    (`Answerer.gives_what_is_asked`). Phrasings written for this test; passages cut from the
    statement."""
    from ketaqa.pipeline.search.question_form import (
        DOI,
        FREQUENCY,
        PERSONS,
        PMID,
        kinds_asked,
        kinds_given,
    )

    for question in (
        "how often should bloods be repeated on a ketamine course?",
        "obs freq for an outpatient ket infusion",
        "sats q2h or q4h during the infusion?",
        "at what interval should infusions be repeated?",
    ):
        assert kinds_asked(question) == (FREQUENCY,), question
    assert kinds_asked("pubmed id of the Sheehy cohort") == (PMID,)
    assert kinds_asked("sheehy BMC peds doi?") == (DOI,)
    # who wrote this document itself wants persons; who wrote a cited paper is a look-up
    assert kinds_asked("which individuals authored this FPM background paper?") == (PERSONS,)
    assert kinds_asked("who drafted this position statement") == (PERSONS,)
    assert kinds_asked("who wrote the 2019 meta-analysis of ketamine infusions?") == ()
    assert kinds_asked("what were the rates of agitation?") == ()
    # a named statistical measure is given by naming it; the statement names none of these
    assert kinds_asked("NNT for IV ketamine in CRPS?") == ("nnt",)
    assert kinds_asked("what standardised mean difference did the review pool?") == ("smd",)
    assert kinds_asked("odds ratio and 95% CI for relief?") == ("ratio", "confidence interval")
    assert "p value" in kinds_given("utilized high-dose ketamine therapy ($P = .213$)")

    assert kinds_given("neurologic excitability [10.4%]; over-sedation [7.4%]") == {FREQUENCY}
    assert FREQUENCY in kinds_given("8/11 “better” at 2/12")
    assert FREQUENCY in kinds_given("oral: 30-1000mg/day. Start 0.5mg/kg")
    assert kinds_given("doi: 10.1111/aas.13429. Epub 2019 Jul 16. PMID: 31313291.") == {DOI, PMID}
    assert PERSONS in kinds_given("D-1. Masaracchia MM, Sites BD, Lee J, Thomas JJ, Fernandez PG.")
    assert PERSONS not in kinds_given(
        "POSITION STATEMENT – A document that describes where the college stands on a "
        "particular issue."
    )
    assert kinds_given(
        "Pain Reports PR9 3 (2018) e674 <http://dx.doi.org/10.1097/PR9.0000000000000674>"
    ) == {DOI}
    assert (
        kinds_given(
            "For hepatic dysfunction, it should be avoided in individuals with severe impairment "
            "but may be administered judiciously with proper monitoring in people with moderate "
            "disease"
        )
        == frozenset()
    )


def test_a_stated_contraindication_answers_whether_to_give_not_every_question_about_it():
    """The contraindication listed first answers "may ketamine be given?" and a question that
    asks nothing the statement does not mention; asked something else of such a patient, in words
    the statement never uses ("should her levetiracetam be adjusted?"), the model decides and the
    verdict is never "not covered". Phrasings written for this test."""
    from ketaqa.pipeline.answering.answer import Answerer
    from ketaqa.pipeline.answering.verdict import Verdict
    from ketaqa.pipeline.search.reading import Concept, QueryAnalysis

    def reading(question: str, missing: tuple[str, ...], whether: bool) -> QueryAnalysis:
        concepts = tuple(Concept(m, (), False, 2.0) for m in missing)
        return replace(QueryAnalysis.plain(question), concepts=concepts, whether_to_give=whether)

    verdict = Answerer.contraindication_verdict
    asks_whether = reading("bipolar with psychosis, ketamine ok?", (), True)
    assert verdict(asks_whether, Verdict.NOT_COVERED) is Verdict.ANSWERS
    nothing_missing = reading("raised IOP ketamine", (), False)
    assert verdict(nothing_missing, Verdict.RELATED) is Verdict.ANSWERS
    other_ask = reading(
        "epilepsy too: should her levetiracetam be adjusted?", ("levetiracetam",), False
    )
    assert verdict(other_ask, Verdict.NOT_COVERED) is Verdict.RELATED
    assert verdict(other_ask, Verdict.ANSWERS) is Verdict.ANSWERS
