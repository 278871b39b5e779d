"""Fusion and the population prior, on small hand-made score lists; the look-up reading of a
question. (The entry prior on the real index: tests/integration/test_retrieve.py.)"""

from __future__ import annotations

from ketaqa.pipeline.search.priors import apply_population_prior
from ketaqa.pipeline.search.question_form import asks_for_citation
from ketaqa.pipeline.search.retrieve import (
    Scored,
    reciprocal_rank_fusion,
    weighted_fusion,
)


def test_rrf_rewards_agreement():
    lex = [Scored(1, 9.0), Scored(2, 5.0), Scored(3, 1.0)]
    den = [Scored(2, 0.9), Scored(3, 0.8), Scored(1, 0.1)]
    fused = reciprocal_rank_fusion([lex, den], k=60)
    assert max(fused, key=fused.get) == 2


def test_weighted_fusion_is_a_convex_mix_of_normalised_scores():
    lex = [Scored(1, 10.0), Scored(2, 0.0)]
    den = [Scored(2, 0.9), Scored(1, 0.5)]
    assert weighted_fusion(lex, den, 0.0) == {1: 1.0, 2: 0.0}
    assert weighted_fusion(lex, den, 1.0) == {1: 0.0, 2: 1.0}
    mixed = weighted_fusion(lex, den, 0.3)
    assert abs(mixed[1] - 0.7) < 1e-9 and abs(mixed[2] - 0.3) < 1e-9


def test_citation_lookups_are_recognised():
    assert asks_for_citation("Which paper reviewed five years of oral ketamine use?")
    assert asks_for_citation("What is the PMID of the Masaracchia study?")
    assert not asks_for_citation("Is ketamine recommended for fibromyalgia?")


def test_who_and_volume_look_up_only_as_parts_of_a_citation():
    """ "Who wrote" and "vol 19" look up a publication; "who should not get it", "a man who
    injects heroin" and "a volume knob" ask about patients and pain. Phrasings written for
    this test."""
    assert asks_for_citation("who led the adolescent infusion cohort?")
    assert asks_for_citation("Bell review - who wrote it, and which vol?")
    assert asks_for_citation("Pain Reports volume 3 - which review?")
    assert asks_for_citation("the WHO committee report on ketamine - what year?")
    assert not asks_for_citation("who shouldnt have ketamine infusions")
    assert not asks_for_citation("A builder who drinks heavily has CRPS. Is ketamine ok?")
    assert not asks_for_citation("pain is like a volume dial - does ketamine turn it down?")


def test_a_listed_contraindication_is_boosted_twice():
    """Safety first: a passage about a contraindicated population the question names gains
    the population boost squared; another population gains it once."""
    pops = [frozenset({"psychoses"}), frozenset({"paediatric"}), frozenset()]
    fused = {0: 1.0, 1: 1.0, 2: 1.0}
    boosted = apply_population_prior(pops, fused, ("psychoses", "paediatric"), 1.5)
    assert boosted == {0: 2.25, 1: 1.5, 2: 1.0}
