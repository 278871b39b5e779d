"""Who and what a question or a passage is about: populations and aspects.

A question that names a population (children, the ED, a contraindicated condition) or an
aspect (how strong the evidence is) ranks the passages about the same one first; the
populations the statement lists as contraindications keep a patient's question within reach
of the list. One vocabulary, read the same way from questions and from passages.
"""

from __future__ import annotations

import re

from ketaqa.pipeline.indexing.tokenizer import raw_words

# Populations a question may name; a passage about the same population ranks first. Patients
# with a condition the statement lists as a contraindication are a population too: a case
# question about a patient with schizophrenia must find the contraindication first.
POPULATION_TERMS = {
    "paediatric": ("paediatric", "pediatric", "children", "child", "adolescents", "adolescent"),
    "emergency": ("emergency", "ed"),
    "perioperative": ("perioperative", "postoperative", "intraoperative", "surgery", "surgical"),
    "adult": ("adult", "adults"),
    "psychoses": ("psychoses",),
    "cardiovascular": ("cardiovascular",),
    "hepatic": ("hepatic",),
    "raised pressure": ("intracranial", "intraocular"),
    "substance abuse": ("abuse",),
}
# The populations A-2 (ii) lists as contraindications. A case question that names one ("He has
# schizophrenia") must find the contraindication first, before the passage about his CRPS, so
# these are boosted twice (`priors.apply_population_prior`).
CONTRAINDICATED = frozenset(
    {"psychoses", "cardiovascular", "hepatic", "raised pressure", "substance abuse"}
)

# A word the statement never uses names the population of the lexicon's nearest population
# phrase (a contraindication, children, the ED, surgery) when the encoder puts them this close,
# for ranking only:
# "schizoaffective" 0.88 to "schizophrenic", "meth" 0.78 to "methamphetamine", "toddler" 0.66
# to "child"; not "kidney" 0.62 to "liver", "depression" 0.53 to "addiction". Lower readings
# were wrong more often than right on the words checked (see the README).
MEANING_SIMILARITY = 0.65
MAX_MEANING_PROBES = 6  # missing words read by meaning, the rarest first

# Routes of administration, as a question types them (lower case; "IM", "SL" and "IT" only in
# capitals). The statement is about ketamine given the ways it names (IV, oral, intranasal,
# subcutaneous); a route it never mentions, named in what is asked ("IM ketamine dose",
# "intrathecal ketamine for labour"), is a known concept it lacks, like another drug.
ROUTES_OF_ADMINISTRATION = frozenset(
    """intramuscular intramuscularly im sublingual sublingually sl intrathecal intrathecally it
    epidural epidurally neuraxial rectal rectally suppository suppositories transdermal
    transdermally nebulised nebulized inhaled inhalational buccal intra-articular
    intraarticular intradermal intraosseous intravesical""".split()
)
CAPITALS_ONLY_ROUTES = frozenset({"im", "sl", "it"})


def names_route(typed: str) -> bool:
    """Whether a typed word names a route of administration ("IM" in capitals, not "it")."""
    word = typed.lower()
    if word in CAPITALS_ONLY_ROUTES:
        return typed.isupper()
    return word in ROUTES_OF_ADMINISTRATION


# What a question asks about a topic, beside whom: "PHN ketamine evidence" wants the bullet that
# grades the evidence for PHN, not the paragraph that lists PHN among the conditions studied.
# Read from the question by `_ASPECT_RES`, from a passage by its words; boosted like populations.
ASPECT_TERMS = {
    "evidence grade": ("evidence", "grade"),
}
_ASPECT_RES = {
    # "evidence-based review" names a kind of paper, it does not ask how strong the evidence is
    "evidence grade": re.compile(
        r"\b(evidence(?![\s-]+based)|grade[ds]?|level of certainty|how strong)\b"
    ),
}


def aspects_asked(text: str, lookup: bool) -> tuple[str, ...]:
    """The aspects a question asks about; none when it looks up a publication, whose title
    may say "evidence" without asking how strong it is."""
    if lookup:
        return ()
    return tuple(a for a, pattern in _ASPECT_RES.items() if pattern.search(text))


def populations_named(words: set[str]) -> tuple[str, ...]:
    """The populations whose names are among `words`, in `POPULATION_TERMS` order: the one
    lookup the question reader, words read by meaning and passages share."""
    return tuple(p for p, names in POPULATION_TERMS.items() if not words.isdisjoint(names))


def passage_populations(text: str, section: str) -> frozenset[str]:
    """The populations a passage is about, from its words and its section path, and the
    aspects its own words state (a passage grading evidence says "evidence" or "grade")."""
    text_words = set(raw_words(text))
    found = set(populations_named(text_words | set(raw_words(section))))
    found |= {a for a, names in ASPECT_TERMS.items() if not text_words.isdisjoint(names)}
    return frozenset(found)
