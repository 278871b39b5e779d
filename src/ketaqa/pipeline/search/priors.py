"""Ranking priors: plain functions on fused scores, each reading one thing the question
says (a look-up, a population, a study, a kind of answer, one patient) against what the index
knows of each passage. `HybridRetriever.apply_priors` calls them in order, so both backends
rank through the same priors; each weight is a `RetrievalSettings` field chosen on dev.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ketaqa.pipeline.search.populations import CONTRAINDICATED, passage_populations
from ketaqa.pipeline.search.question_form import DOCUMENT_KINDS

# Passages that name things rather than say things: bibliography entries, the citation
# headings of Section I items and Section II studies, the title, the contents.
PRIOR_KINDS = ("entry", "item", "title", "contents")
ENTRY_CAP = 0.99  # a clinical question's entries score at most this share of its best passage


def apply_entry_prior(
    kinds: Sequence[str],
    fused: dict[int, float],
    lookup: bool,
    prior: float,
    about_document: bool = False,
) -> dict[int, float]:
    """Down-weight bare bibliography entries (and the title and contents) unless the question
    looks up a publication; the title and contents are down-weighted even then.

    An entry shares its title's words with many clinical questions but answers none of them;
    the passages that report the study do. The title and contents name this document, so they
    answer no look-up of a paper either ("Which paper reviewed oral ketamine?"). A question
    about the document itself ("what page does Section II start on") is answered by its
    contents, which keep their score then; the title stays down-weighted, as its words match
    every question that names the statement ("when was the ketamine position statement first
    issued" is answered by its dates)."""
    if prior == 1.0:
        return fused
    weighted = DOCUMENT_KINDS if lookup else PRIOR_KINDS
    if about_document:
        weighted = tuple(k for k in weighted if k != "contents")
    return {i: s * prior if kinds[i] in weighted else s for i, s in fused.items()}


def entries_after_statement(
    kinds: Sequence[str], fused: dict[int, float], keep_entries: bool
) -> dict[int, float]:
    """For a clinical question, no bibliography entry outranks the best passage of the
    statement's own text: the entry's score is capped just below that passage's.

    An entry's title can share every word of a terse question ("ketamine CRPS": "Ketamine
    produces effective and long-term pain relief in patients with Complex Regional Pain
    Syndrome") and outscore, even halved by the entry prior, the passage that grades the
    evidence. The entry stays in the list as a related reference. A question that looks up a
    publication, or names a kind of one ("which rat study ..."), is left as ranked
    (`keep_entries`, from `QueryAnalysis.keeps_entries`)."""
    if keep_entries:
        return fused
    body = [s for i, s in fused.items() if kinds[i] != "entry"]
    if not body:
        return fused
    cap = max(body) * ENTRY_CAP
    return {i: min(s, cap) if kinds[i] == "entry" else s for i, s in fused.items()}


def apply_population_prior(
    passage_populations: Sequence[frozenset[str]],
    fused: dict[int, float],
    populations: Sequence[str],
    boost: float,
) -> dict[int, float]:
    """Rank passages about the population a question names ("paeds", "in the ED") first:
    an adult infusion rate is the wrong answer to a question about children.

    A listed contraindication is boosted twice (boost squared): missing it is the worst
    failure, and a case question's other details (CRPS, a wrist fracture) pull elsewhere."""
    if boost == 1.0 or not populations or not passage_populations:
        return fused
    wanted = set(populations)
    out = {}
    for i, s in fused.items():
        shared = wanted & passage_populations[i]
        factor = boost * boost if shared & CONTRAINDICATED else boost
        out[i] = s * factor if shared else s
    return out


def apply_answer_type_prior(
    carries: Sequence[frozenset[str]],
    fused: dict[int, float],
    wanted: Sequence[str],
    boost: float,
) -> dict[int, float]:
    """Rank passages that carry the kinds of answer the question wants first: for "how many
    RCTs ..." the bullet with the count, not the one that only shares the topic words; for
    "when was this document first issued" its dates. Each kind carried multiplies by `boost`."""
    if boost == 1.0 or not wanted or not carries:
        return fused
    kinds = set(wanted)
    return {i: s * boost ** len(kinds & carries[i]) for i, s in fused.items()}


# A study named in a section heading: "A-3 Bell 2018", "C-1 Noppers 2010 / Niesters 2014",
# "Kapural 2010": a capitalised surname (optionally "et al") and a four-digit year.
_STUDY_HEADING_RE = re.compile(r"\b([A-Z][A-Za-z'’-]+)(?: et al\.?)?,? ((?:19|20)\d\d)\b")
_YEAR_TYPED_RE = re.compile(r"\b(?:(19|20)(\d\d)|'?(\d\d))\b")


def studies_in_heading(parts: Sequence[str]) -> frozenset[tuple[str, str]]:
    """(surname, year) of each study a passage's section path names, lower case."""
    return frozenset(
        (name.lower(), year) for part in parts for name, year in _STUDY_HEADING_RE.findall(part)
    )


def years_typed(text: str) -> frozenset[str]:
    """The years a question names, as typed in full ("2018") or short ("bell 09", "'17")."""
    years = set()
    for century, tail, short in _YEAR_TYPED_RE.findall(text):
        if century:
            years.add(century + tail)
        else:
            years.update((f"19{short}", f"20{short}"))
    return frozenset(years)


def apply_study_prior(
    studies: Sequence[frozenset[tuple[str, str]]],
    fused: dict[int, float],
    words: frozenset[str],
    years: frozenset[str],
    boost: float,
) -> dict[int, float]:
    """Rank the passages filed under the study a question names first: its author's surname
    once, author and year twice ("bell kalso 2018 verdict": A-3 Bell 2018, not C-2 Bell 2009).

    The heading is a field of its own: in the passage's text the study's author and year are
    two words among many, and "2018" stands in half the statement's headings."""
    if boost == 1.0 or not studies or not words:
        return fused
    out = {}
    for i, s in fused.items():
        named = [year in years for name, year in studies[i] if name in words]
        out[i] = s * boost ** (1 + max(named)) if named else s
    return out


# A numbered footnote the question points at ("footnote 3", "fn 4", "fn1"), and the one a
# passage is filed under (its section path ends "Footnote 3").
_FOOTNOTE_TYPED_RE = re.compile(r"\b(?:foot-?\s?notes?|fn)\s*(\d{1,2})\b", re.IGNORECASE)
_FOOTNOTE_HEADING_RE = re.compile(r"^Footnote (\d{1,2})$")


def footnotes_typed(text: str) -> frozenset[str]:
    """The footnote numbers a question points at."""
    return frozenset(_FOOTNOTE_TYPED_RE.findall(text))


def footnote_in_heading(parts: Sequence[str]) -> str:
    """The number of the footnote a passage is filed under, or ""."""
    match = _FOOTNOTE_HEADING_RE.match(parts[-1]) if parts else None
    return match[1] if match else ""


def apply_footnote_prior(
    footnotes: Sequence[str], fused: dict[int, float], typed: frozenset[str], boost: float
) -> dict[int, float]:
    """Rank the footnote a question points at by its number first ("fn 4: which guideline
    questions were left out?"), as a study named by author and year: the number is in the
    passage's heading, a field of its own, never in its text."""
    if boost == 1.0 or not typed or not footnotes:
        return fused
    return {i: s * boost**2 if footnotes[i] in typed else s for i, s in fused.items()}


CONTRAINDICATION_RANK = 3  # where a question about one patient finds a contraindication at worst
# A passage lists a contraindication when it names a contraindicated population (its own words,
# not its section's) and advises against ketamine for it.
_ADVISES_AGAINST_RE = re.compile(
    r"\b(should not|must not|avoid(ed)?|contraindicat\w*|not be (used|undertaken|given))\b",
    re.IGNORECASE,
)


def lists_contraindication(text: str, kind: str) -> bool:
    """Whether a passage of the statement's text names a contraindicated population in its
    own words and advises against ketamine for it (what `contraindication_within_reach`
    keeps within reach)."""
    return (
        kind not in PRIOR_KINDS
        and bool(passage_populations(text, "") & CONTRAINDICATED)
        and bool(_ADVISES_AGAINST_RE.search(text))
    )


def contraindication_within_reach(
    contraindications: Sequence[int],
    fused: dict[int, float],
    about_patient: bool,
    whether_to_treat: bool = False,
) -> dict[int, float]:
    """For a question about one patient, the best-scoring passage that lists a
    contraindication is ranked no lower than third, whatever words the patient's condition
    was named in ("ice", "special K", "a VP shunt"): missing it is the worst failure, and the
    clinician reads the statement's own list. When the question asks whether ketamine may be
    given to that patient ("is he a reasonable candidate?"), the list is what answers: first."""
    rank = 1 if whether_to_treat else CONTRAINDICATION_RANK
    if not about_patient or not contraindications:
        return fused
    best = max(contraindications, key=lambda i: (fused.get(i, 0.0), -i))
    ranked = sorted((s for i, s in fused.items() if i != best), reverse=True)
    if len(ranked) < rank:
        return fused  # too few other candidates to push it below its rank
    floor = ranked[rank - 1]  # what the passage must beat to reach its rank
    if fused.get(best, 0.0) > floor:
        return fused
    return {**fused, best: floor * 1.000001}


def term_postings(tokens: Sequence[Sequence[str]]) -> dict[str, frozenset[int]]:
    """Index term -> the passages that hold it: what the coverage prior intersects."""
    postings: dict[str, set[int]] = {}
    for i, passage_tokens in enumerate(tokens):
        for term in set(passage_tokens):
            postings.setdefault(term, set()).add(i)
    return {term: frozenset(ids) for term, ids in postings.items()}


def apply_coverage_prior(
    postings: Mapping[str, frozenset[int]],
    fused: dict[int, float],
    concepts: Sequence[Sequence[frozenset[str]]],
    weight: float,
) -> dict[int, float]:
    """Rank passages that state more of the question's concepts higher: the score times
    (1 + weight x the share of concepts the passage states).

    A concept is stated when all index terms of one of its readings are in the passage
    ("dose related" read as "dose-dependent"). Without this a short passage sharing one heavy
    word ("AEs") beat the passage that says "dose-dependent adverse effects": BM25's length
    normalisation and a short text's embedding both favour it. Coordination-level matching,
    in the old IR term; the weight is chosen on dev (`ketaqa eval --tune`)."""
    if weight == 0.0 or not concepts or not postings:
        return fused
    empty: frozenset[int] = frozenset()
    stated_by = [
        frozenset().union(
            *(frozenset.intersection(*(postings.get(t, empty) for t in r)) for r in readings)
        )
        for readings in concepts
    ]
    return {
        i: s * (1.0 + weight * sum(i in ids for ids in stated_by) / len(concepts))
        for i, s in fused.items()
    }
