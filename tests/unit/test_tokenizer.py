"""The clinical tokenizer: doses, hyphens, spellings, abbreviations, stemming."""

from __future__ import annotations

import pytest

from ketaqa.pipeline.indexing.tokenizer import (
    ClinicalTokenizer,
    build_tokenizer,
    learn_abbreviations,
)


@pytest.fixture(scope="module")
def tok(statement_text) -> ClinicalTokenizer:
    return build_tokenizer([statement_text])


def shares(tok, a: str, b: str) -> set[str]:
    return set(tok.tokenize(a)) & set(tok.tokenize(b))


def test_case_folding(tok):
    assert tok.tokenize("KETAMINE") == tok.tokenize("ketamine")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.5 mg/kg", {"0.5", "mg/kg", "0.5mg/kg"}),
        ("0.5mg/kg", {"0.5", "mg/kg", "0.5mg/kg"}),
        ("80 mg", {"80", "mg", "80mg"}),
        ("80mg", {"80", "mg", "80mg"}),
        ("0.1-0.5mg/kg/hr", {"0.1", "0.5", "mg/kg/h", "0.5mg/kg/h"}),
        ("0.42 mg/kg per hour", {"0.42", "mg/kg", "0.42mg/kg"}),
    ],
)
def test_doses_and_units_are_kept(tok, text, expected):
    assert expected <= set(tok.tokenize(text))


def test_unit_spellings_unify(tok):
    assert shares(tok, "0.3 mg/kg/hour", "0.3 mg/kg/h") >= {"0.3", "mg/kg/h", "0.3mg/kg/h"}


@pytest.mark.parametrize(
    "a, b",
    [
        ("pre-emptive", "preemptive"),
        ("pre-emptive", "pre emptive"),
        ("opioid-induced", "opioid induced"),
        ("post-herpetic", "postherpetic"),
    ],
)
def test_hyphenated_terms_match_both_ways(tok, a, b):
    assert shares(tok, a, b)


@pytest.mark.parametrize(
    "british, american",
    [
        ("paediatric", "pediatric"),
        ("anaesthesia", "anesthesia"),
        ("ischaemic", "ischemic"),
        ("subanaesthetic", "subanesthetic"),
        ("randomised", "randomized"),
        ("tumour", "tumor"),
        ("sensitisation", "sensitization"),
        ("oedema", "edema"),
    ],
)
def test_british_and_american_spellings_unify(tok, british, american):
    assert tok.tokenize(british) == tok.tokenize(american)


def test_four_and_for_stay_apart(tok):
    assert tok.tokenize("four") != tok.tokenize("for")


def test_abbreviations_are_learned_from_the_document(statement_text):
    learned = learn_abbreviations([statement_text])
    assert learned["phn"] == "post herpetic neuralgia"
    assert learned["plp"] == "phantom limb pain"
    assert learned["crps"] == "complex regional pain syndrome"


@pytest.mark.parametrize(
    "abbr, long_form",
    [
        ("CRPS", "complex regional pain syndrome"),
        ("PHN", "post herpetic neuralgia"),
        ("PLP", "phantom limb pain"),
        ("OIH", "opioid-induced hyperalgesia"),
        ("SCI", "spinal cord injury"),
    ],
)
def test_abbreviation_matches_its_expansion(tok, abbr, long_form):
    assert set(tok.tokenize(abbr)) & set(tok.tokenize(long_form)) >= {abbr.lower()}
    assert len(shares(tok, abbr, long_form)) >= 3


def test_stemming(tok):
    assert tok.tokenize("infusions") == tok.tokenize("infusion")


def test_footnote_markers_do_not_glue_to_years(tok):
    assert "2011" in tok.tokenize("changed in 2011¹.")


def test_stopwords_dropped_but_kept_on_request(tok):
    assert "the" not in tok.tokenize("the dose")
    assert "the" in tok.tokenize("the dose", drop_stopwords=False)


def test_upper_case_who_is_the_organisation_not_a_stopword(tok):
    assert set(tok.tokenize("What did the WHO say?")) >= set(
        tok.tokenize("World Health Organization")
    )
    assert not set(tok.tokenize("who said it")) & set(tok.tokenize("World Health Organization"))
