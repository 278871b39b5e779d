"""The reading of one question: what it asks, in the statement's terms, as plain data.

`QueryReader.read` (query.py) makes it once per question; retrieval, the verdict and every
front end take it as it is. Its methods only derive from it (the concepts the statement never
mentions, the probes the encoder measures) or return it with what the encoder measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ketaqa.pipeline.indexing.tokenizer import raw_words
from ketaqa.pipeline.search.populations import MAX_MEANING_PROBES, populations_named
from ketaqa.pipeline.search.question_form import (
    DOCUMENT,
    about_this_document,
    answer_type,
    asks_for_citation,
    identifies_publication,
    names_publication_kind,
)

# A missing concept rarer than this in general English (Zipf scale: 3 = once per million
# words, 6 = once per thousand) is specific: "pregnancy" (4.3), "lidocaine" (2.5), not
# "wrote" (5.0) or "size" (5.1). How many missing concepts are specific is one of the verdict
# model's signals; every missing concept is named when the verdict is "not covered".
SPECIFIC_BELOW_ZIPF = 4.5

# Missing concepts whose salience is measured, the rarest first. Each costs one more text in
# the encoder's batch; on dev, one probe decides as well as four (a near-miss's telling word
# is its rarest), at a third of the extra encoding for a long case question.
MAX_SALIENCE_PROBES = 1


@dataclass(frozen=True)
class Concept:
    """One content word or phrase of the question, and whether the statement mentions it."""

    typed: str  # as it appears in the question (lower case)
    terms: tuple[str, ...]  # the statement words it was read as (itself, a fix, an expansion)
    mentioned: bool
    zipf: float  # how common the word is in general English (wordfreq's Zipf scale)
    salience: float = 0.0  # how much the question's meaning rests on it (see `with_salience`)

    @property
    def specific(self) -> bool:
        return self.zipf < SPECIFIC_BELOW_ZIPF


@dataclass(frozen=True)
class QueryAnalysis:
    question: str
    search_text: str  # the question plus its corrections and expansions, for retrieval
    corrections: tuple[tuple[str, str], ...]  # (typed, corrected)
    expansions: tuple[tuple[str, tuple[str, ...]], ...]  # (typed, statement words)
    concepts: tuple[Concept, ...]
    populations: tuple[str, ...]
    unknown_words: tuple[str, ...]  # in neither the corpus nor general English, unfixed
    lookup: bool  # the question looks up a publication
    # per mentioned concept, the index terms of each of its readings: what a passage must
    # hold to state it (`priors.apply_coverage_prior`)
    concept_terms: tuple[tuple[frozenset[str], ...], ...] = ()
    names_publication: bool = False  # names a kind of publication ("which rat study")
    # asks which publication, whether there is one, or who wrote one (`identifies_publication`)
    identifies_publication: bool = False
    # short rare tokens no rule could read ("medd"): shown, never counted as missing concepts
    unrecognised: tuple[str, ...] = ()
    # the head concept: the question's most specific (rarest in English); the index terms of
    # each of its words, empty when the statement never mentions it
    head: str = ""
    head_terms: tuple[frozenset[str], ...] = ()
    answer_type: str = ""  # "figure", "date" or "" (see `answer_type`)
    about_document: bool = False  # asks about this document itself (`about_this_document`)
    # populations named only by words read by meaning ("schizoaffective"): ranking only
    meant_populations: tuple[str, ...] = ()
    about_patient: bool = False  # about ketamine for one particular patient (`about_one_patient`)
    # ... and asks whether it may be given to them (`asks_whether_to_treat`)
    whether_to_treat: bool = False
    # asks whether ketamine may be given, of one patient or of a condition (`asks_whether_to_give`)
    whether_to_give: bool = False
    # kinds of answer the form asks for that a passage must visibly carry (`kinds_asked`):
    # a frequency ("how often"), a PMID or DOI, a named statistical measure ("NNT"), or the
    # persons who wrote this document
    kinds_asked: tuple[str, ...] = ()
    # surnames of authors whose papers the corpus only lists in a bibliography ("marchetti")
    listed_only: tuple[str, ...] = ()
    # the sentence that asks, when the question is several (`question_form.ask_sentence`),
    # after spelling fixes; "" when the whole question is one ask
    ask: str = ""
    # missing concepts in what is asked that name a drug (a drug dictionary's: "lignocaine",
    # "fluoxetine") or a route of administration ("IM", "intrathecal") the statement never
    # mentions: not shorthand or a typo, a known concept it lacks
    missing_treatments: tuple[str, ...] = ()

    @property
    def asks_about_listed_only(self) -> bool:
        """Whether the question asks what a paper the corpus only lists found: its entry can
        give the paper's title, journal or year (a look-up), never its findings."""
        return bool(self.listed_only) and not self.lookup

    @property
    def answer_types(self) -> tuple[str, ...]:
        """The kinds of answer wanted: a figure or a date, and a fact about the document."""
        wanted = (self.answer_type,) if self.answer_type else ()
        return wanted + ((DOCUMENT,) if self.about_document else ())

    @property
    def ask_answer_type(self) -> str:
        """The kind of answer the ask wants: of a case history, its ask decides ("a small
        dose" in the history is not what it asks); of a one-line question, all of it."""
        return answer_type(self.ask) if self.ask else self.answer_type

    @property
    def head_missing(self) -> bool:
        return bool(self.head) and not self.head_terms

    @classmethod
    def plain(cls, text: str) -> QueryAnalysis:
        """A reading of `text` as it stands, without the lexicon, speller or concepts: what the
        evaluation's plain-retriever ablations and the scale benchmarks search with."""
        return cls(
            question=text,
            search_text=text,
            corrections=(),
            expansions=(),
            concepts=(),
            populations=(),
            unknown_words=(),
            lookup=asks_for_citation(text),
            names_publication=names_publication_kind(text),
            identifies_publication=identifies_publication(text),
            answer_type=answer_type(text),
            about_document=about_this_document(text),
        )

    @property
    def keeps_entries(self) -> bool:
        """Whether bibliography entries may answer: the question looks up a publication or
        names a kind of one. Otherwise it is a clinical question, answered by the statement."""
        return self.lookup or self.names_publication

    @property
    def missing_concepts(self) -> tuple[str, ...]:
        return tuple(c.typed for c in self.concepts if not c.mentioned)

    @property
    def missing_named(self) -> tuple[str, ...]:
        """The missing concepts a clinician is told of, and a "not covered" verdict rests on:
        all of them for a one-line question; for a case history, the specific ones its ask
        names ("pregnancy"), else the history's specific ones ("porphyria"), never its
        everyday words ("woman", "foot", "helped"), which say nothing about what it asks."""
        if not self.ask:
            return self.missing_concepts
        return tuple(c.typed for c in self.missing_in_ask) or self.missing_specific

    @property
    def missing_in_ask(self) -> tuple[Concept, ...]:
        """The specific missing concepts a case history's ask names; none for a one-line
        question, whose ask is all of it."""
        if not self.ask:
            return ()
        return tuple(
            c for c in self.concepts if not c.mentioned and c.specific and _names(self.ask, c.typed)
        )

    @property
    def missing_specific(self) -> tuple[str, ...]:
        return tuple(c.typed for c in self.concepts if not c.mentioned and c.specific)

    @property
    def missing_salience(self) -> float:
        """How much of the question rests on what the statement never mentions: 0 when it
        mentions everything; high for "lidocaine infusion rate", low for "Maher and colleagues"."""
        return max((c.salience for c in self.concepts if not c.mentioned), default=0.0)

    def with_meant_populations(self, words: Iterable[str]) -> QueryAnalysis:
        """The reading with the populations that statement words read by meaning name: they
        steer ranking only. The words stay missing concepts, and no verdict rests on them."""
        named = populations_named({w for s in words for w in raw_words(s)})
        found = tuple(p for p in named if p not in self.populations)
        return replace(self, meant_populations=found) if found else self

    def meaning_probes(self, limit: int = MAX_MEANING_PROBES) -> list[str]:
        """Missing single words worth reading by meaning, the rarest first (a vignette names
        many): "schizoaffective", "clozapine", "meth", "toddler"."""
        missing = sorted(
            (c for c in self.concepts if not c.mentioned and " " not in c.typed),
            key=lambda c: c.zipf,
        )
        return [c.typed for c in missing[:limit]]

    @property
    def lexical_text(self) -> str:
        """What BM25 searches with: the question, and a case history's ask once more, so
        that its words weigh twice the history's (BM25 adds a query word's score each time
        it occurs). The history still ranks; the ask decides between its neighbours."""
        return f"{self.search_text} {self.ask}" if self.ask else self.search_text

    @property
    def salience_base(self) -> str:
        """The text a missing concept's salience is measured against: the ask of a case
        history, whose own words decide what it asks, else the whole question. Dropping
        "pregnancy" from a five-sentence vignette hardly moves its meaning; dropping it from
        "is ketamine safe during pregnancy?" does, as it does for a one-line question."""
        return self.ask if self.missing_in_ask else self.search_text

    def salience_probes(self, limit: int = MAX_SALIENCE_PROBES) -> list[tuple[str, str]]:
        """(concept, `salience_base` without it) for the missing concepts worth measuring:
        the rarest first, at most `limit` (the encoder's extra batch stays small); of a case
        history whose ask names a specific one, those."""
        base = self.salience_base
        candidates = self.missing_in_ask or [c for c in self.concepts if not c.mentioned]
        missing = sorted(candidates, key=lambda c: (not c.specific, c.zipf))
        return [(c.typed, without(base, c.typed)) for c in missing[:limit]]

    def with_salience(self, salience: dict[str, float]) -> QueryAnalysis:
        """The analysis with each probed concept's salience: 1 - cos(question, question
        without the concept), from one batch of the encoder. Dropping "lidocaine" from a
        lidocaine question moves its meaning; dropping "colleagues" hardly does. This is what
        tells a near-miss about another drug from an answerable question with a stray word."""
        concepts = tuple(
            replace(c, salience=round(salience[c.typed], 6)) if c.typed in salience else c
            for c in self.concepts
        )
        return replace(self, concepts=concepts)


def _whole_word(typed: str) -> re.Pattern[str]:
    """The typed concept as a whole word, in any case."""
    return re.compile(r"(?<!\w)" + re.escape(typed) + r"(?!\w)", re.IGNORECASE)


def _names(text: str, typed: str) -> bool:
    """Whether `text` holds the typed concept as a whole word."""
    return _whole_word(typed).search(text) is not None


def without(text: str, typed: str) -> str:
    """`text` with every occurrence of the typed concept removed (as a whole word)."""
    pattern = _whole_word(typed)
    return " ".join(pattern.sub(" ", text).split())
