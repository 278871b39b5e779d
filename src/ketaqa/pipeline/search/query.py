"""What a typed question asks for, in the statement's own terms.

Clinicians type "ketamine in pt with schizophrenia", "raised ICP ok?", "paeds infusoin rate".
Before retrieval a question is read three ways, each easy to audit:

- the clinical lexicon (`lexicon.json`) maps abbreviations and lay words to words the statement
  uses ("schizophrenia" -> "psychoses", "kids" -> "paediatric");
- spelling correction against the corpus vocabulary (`spelling.Speller`), applied only to
  words that are neither in the corpus nor in the model's general English vocabulary, so a real
  word the statement lacks ("pregnancy") is never "corrected" into one it has;
- concepts: the question's content words, each marked as mentioned by the statement or not.
  The unmentioned ones are the honest core of a "not covered" verdict.

Nothing here changes what is shown: the expansions only steer retrieval and the verdict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from ketaqa.pipeline.indexing.english import english_zipf
from ketaqa.pipeline.indexing.tokenizer import STOPWORDS, ClinicalTokenizer, clean, raw_words
from ketaqa.pipeline.search.populations import (
    POPULATION_TERMS,
    aspects_asked,
    names_route,
    populations_named,
)
from ketaqa.pipeline.search.question_form import (
    about_one_patient,
    about_this_document,
    answer_type,
    ask_sentence,
    asks_for_citation,
    asks_whether_to_give,
    asks_whether_to_treat,
    identifies_publication,
    kinds_asked,
    names_publication_kind,
    opening_label,
)
from ketaqa.pipeline.search.reading import Concept, QueryAnalysis
from ketaqa.pipeline.search.shorthand import ShorthandReader
from ketaqa.pipeline.search.spelling import Speller, corrected, phrase_re
from ketaqa.pipeline.search.vocabulary import corpus_vocabulary

LEXICON_FILE = Path(__file__).with_name("lexicon.json")

# A comparative's superlative (or a superlative's comparative) must be at least this common in
# English (Zipf scale, about 0.3 per million words) for the word to be read as a grade.
GRADE_SIBLING_ZIPF = 2.5
# Words that frame a question rather than name its subject: never a missing concept.
FRAMING_WORDS = frozenset(
    """ok okay fine safe safely use used using give given giving still can cannot should
    would could may might must need needs want recommend recommended recommendation
    recommendations advice advise suggest suggested suggests guideline guidance statement
    position paper evidence any info information know tell say says said mention mentions
    mentioned cover covers covered talk discuss discusses discussed regarding re about
    around thoughts worth try trying trial good bad best better work works working help
    helps helpful effective effectiveness role place first line option options ketamine
    pt pts patient patients case yes no vs versus wrt how much many long often when what
    which who whom where why whether does do did doing done get gets getting go going
    used also just really please thanks thank hi hello quick question q re consider
    considered considering appropriate indicated indication indications there
    shouldnt cant dont wont isnt arent doesnt didnt wouldnt couldnt whats
    wrote written write writes authored author authors coauthors colleagues coworkers
    published publish cited cite cites quoted quote listed reported report reports
    looked examined studied pooled reviewed assessed compared found showed shown
    letter commentary worthwhile verdict opinion opinions view views stance
    proportion proportions percentage percentages percent fraction less fewer bigger larger smaller
    size switch switching switched instead across""".split()
)
# (The second group frames a question about a publication or a study, "Which letter reported
# ...", "pooled by Orhurhu and colleagues": what a paper did, never the clinical subject.
# The third asks for a quantity ("what proportion of infusions", "trial size", "bigger dose")
# or a change of treatment ("switching to oral instead of infusions"): the answer is a number
# or the other treatment, not a subject the statement would have to name.)

# an author's surname is read as a name only when rarer than this in general English
NAME_BELOW_ZIPF = 3.6
# an opening label says who asks only when the rest names this many statement concepts
# besides ketamine ("MCQ: in Sheehy's cohort, what share of infusions ...")
LABEL_REST_CONCEPTS = 2


@dataclass(frozen=True)
class LexiconEntry:
    typed: tuple[str, ...]  # what a clinician types, lower case
    statement: tuple[str, ...]  # what the statement says instead, lower case
    kind: str
    # regular expressions for a family of phrasings a list would only enumerate ("how does
    # ketamine relieve / reduce / ease ..."), matched on the lower-cased question before `typed`
    patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[LexiconEntry, ...]  # matched on the lower-cased question
    case_sensitive: tuple[LexiconEntry, ...]  # matched as typed ("IN" intranasal, not "in")


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_FILE) -> Lexicon:
    data = json.loads(path.read_text(encoding="utf-8"))

    def entry(e: dict, lower: bool) -> LexiconEntry:
        typed = tuple(t.lower() if lower else t for t in e["typed"])
        patterns = tuple(re.compile(p) for p in e.get("patterns", ()))
        return LexiconEntry(typed, tuple(s.lower() for s in e["statement"]), e["kind"], patterns)

    return Lexicon(
        tuple(entry(e, True) for e in data["entries"]),
        tuple(entry(e, False) for e in data.get("case_sensitive", ())),
    )


class QueryReader:
    """Reads questions against one corpus: its vocabulary, its mentions, its lexicon."""

    def __init__(
        self,
        tokenizer: ClinicalTokenizer,
        texts: Iterable[str],
        general_words: frozenset[str],
        lexicon: Lexicon | None = None,
        word_frequency: Callable[[str], float] | None = None,
        reference_texts: Iterable[str] = (),
        listed_only_authors: frozenset[str] = frozenset(),
        keep_vocabulary_in: Path | None = None,
        drug_names: Callable[[str], str | None] | None = None,
    ):
        """`texts`: what the corpus says, headings included; `reference_texts`: its
        bibliography entries. A concept counts as mentioned when it occurs in `texts`, or, for
        a question that looks up a publication, in the bibliography too: that a paper's title
        says "depression" does not mean the statement says anything about depression.
        `keep_vocabulary_in`: the index folder, where their vocabulary is kept between runs.
        `drug_names`: a word's generic drug name, or None (`indexing.drugs.DrugNames`)."""
        self.tokenizer = tokenizer
        self._drug_names = drug_names
        self.lexicon = load_lexicon() if lexicon is None else lexicon
        self._word_frequency = word_frequency or english_zipf
        texts = tuple(texts)
        self._reference_texts = tuple(reference_texts)
        vocabulary = corpus_vocabulary(tokenizer, texts, self._reference_texts, keep_vocabulary_in)
        self.body_terms = vocabulary.body_terms
        self.all_terms = vocabulary.body_terms | vocabulary.reference_terms
        self._texts = texts  # the statement's own words, for shorthand readings
        self.listed_only_authors = listed_only_authors
        self.corpus_capitals = vocabulary.capitals
        self._typed = sorted(
            ((t, e) for e in self.lexicon.entries for t in e.typed), key=lambda p: -len(p[0])
        )
        self._capitals = {t: e for e in self.lexicon.case_sensitive for t in e.typed}
        self._patterned = [e for e in self.lexicon.entries if e.patterns]
        self.speller = Speller(
            (t for t, _ in self._typed),
            vocabulary.word_counts,
            general_words,
            self._word_frequency,
            corpus_texts=texts,
        )
        self.corpus_words = self.speller.corpus_words
        self.general_words = general_words
        self.lexicon_words = self.speller.lexicon_words

    def read(self, question: str, lookup: bool | None = None) -> QueryAnalysis:
        """Read a validated question once: corrections, expansions, whether it looks up a
        publication, its concepts and populations. Everything downstream takes this reading.

        `lookup` overrides what the reader decides from the question and its corrections
        (tests); a look-up counts words found only in the bibliography as mentioned."""
        corrections = self.speller.corrections(clean(question))
        text = corrected(clean(question), corrections)
        expansions, covered = self._expand(text)
        expansions += self._capital_terms(question)
        shorthand, unrecognised = self._shorthand(question, text, expansions, covered)
        expansions += shorthand
        covered += [typed for typed, _ in shorthand]
        extra = [w for _, words in expansions for w in words] + [c for _, c in corrections]
        names_ketamine = "ketamine" in extra
        ask = self._ask(question, corrections)
        search_text = question if not extra else f"{question} ({' '.join(extra)})"
        names_publication = names_publication_kind(search_text)
        if lookup is None:
            lookup = asks_for_citation(search_text)
        terms = self.all_terms if lookup else self.body_terms
        concepts = [
            Concept(typed, reading, self._mentioned(reading, terms), self._zipf(typed))
            for typed, reading in expansions
        ]
        covered_words = {w for t in covered for w in _words_of(t)}
        # an unrecognised token is no concept, but still a foreign word (a verdict signal)
        not_concepts = covered_words | set(unrecognised)
        seen = {c.typed.lower() for c in concepts}
        for word in raw_words(text):
            if (
                word in seen
                or word in not_concepts
                or word in STOPWORDS
                or word in FRAMING_WORDS
                or not word.isalpha()
                or len(word) < 3
            ):
                continue
            seen.add(word)
            reading, mentioned = self._word_reading(word, terms)
            concepts.append(Concept(word, reading, mentioned, self._zipf(word)))
        asker, label_concepts = self._asker_label(text, concepts)
        if asker:
            concepts = [c for c in concepts if c not in label_concepts]
            unrecognised = tuple(w for w in unrecognised if w not in asker)
        unknown = tuple(
            w
            for w in dict.fromkeys(raw_words(text))
            if w not in asker
            and w.isalpha()
            and len(w) > 3
            and w not in STOPWORDS
            and w not in covered_words
            and w not in self.corpus_words
            and w not in self.general_words
        )
        return QueryAnalysis(
            question=question,
            search_text=search_text,
            corrections=tuple(corrections),
            expansions=tuple(expansions),
            concepts=tuple(concepts),
            populations=self._populations(text, expansions) + aspects_asked(text, lookup),
            unknown_words=unknown,
            lookup=lookup,
            concept_terms=self._concept_terms(concepts),
            names_publication=names_publication,
            identifies_publication=identifies_publication(question),
            unrecognised=unrecognised,
            **self._head(concepts),
            answer_type=answer_type(question),
            about_document=about_this_document(question),
            # read after its spelling fixes, and with ketamine however it was typed ("ktm")
            about_patient=about_one_patient(text, names_ketamine),
            whether_to_treat=asks_whether_to_treat(text, names_ketamine),
            whether_to_give=asks_whether_to_give(text),
            kinds_asked=kinds_asked(text, ask),
            listed_only=self._listed_only(text),
            ask=ask,
            missing_treatments=self._missing_treatments(concepts, ask, lookup or names_publication),
        )

    def _asker_label(
        self, text: str, concepts: list[Concept]
    ) -> tuple[frozenset[str], list[Concept]]:
        """The words and the concepts of an opening label that says who asks or why ("MCQ:",
        "For a teaching session:", "Pharmacy query:", "A mum asked me:"): a label none of whose
        concepts the statement mentions. They describe the asker, not what is asked, so they
        are no missing concept, however rare ("MCQ", "governance"). A label with a concept the
        statement mentions names the topic ("WHO ECDD ketamine review:"), and so does one that
        names a drug or a route ("Lithium: any interaction?"): both are read as asked. So is
        a label before a question too short to stand alone ("Porphyria: is ketamine safe?"):
        the rest must name at least two things the statement mentions besides ketamine.
        Nothing, when the label is read as asked."""
        words = frozenset(raw_words(opening_label(text)))
        inside = [c for c in concepts if set(raw_words(c.typed)) <= words]
        if not inside or any(c.mentioned for c in inside):
            return frozenset(), []
        if self._missing_treatments(inside, "", lookup=False):
            return frozenset(), []
        rest = [c for c in concepts if c not in inside and c.mentioned]
        if sum(1 for c in rest if "ketamine" not in c.terms) < LABEL_REST_CONCEPTS:
            return frozenset(), []
        return words, inside

    @staticmethod
    def _ask(question: str, corrections: list[tuple[str, str]]) -> str:
        """The ask of a question several sentences long, with the spelling fixes the
        concepts were read with."""
        return corrected(clean(ask_sentence(question)), corrections)

    def _missing_treatments(
        self, concepts: list[Concept], ask: str, lookup: bool
    ) -> tuple[str, ...]:
        """Missing concepts that name a drug (`indexing.drugs`) or a route of administration
        the statement never mentions under any of their names, in what the question asks (a
        case history's ask; a one-line question's all): known concepts it lacks, not
        shorthand or a typo. Not for a look-up or a question naming a kind of publication
        ("which 2003 study of remifentanil..."): a listed paper's title may name the drug."""
        if lookup:
            return ()
        asked = set(raw_words(ask)) if ask else None
        found = []
        for concept in concepts:
            word = concept.typed.lower()
            if concept.mentioned or (asked is not None and word not in asked):
                continue
            if names_route(concept.typed):
                found.append(concept.typed)
                continue
            generic = self._drug_names(word) if self._drug_names is not None else None
            if generic and not self._mentioned((generic,), self.body_terms):
                found.append(concept.typed)
        return tuple(found)

    def _listed_only(self, text: str) -> tuple[str, ...]:
        """Surnames in the question of authors the corpus only lists; a name that is also a
        common English word ("Scott", "Palmer") is not taken for one."""
        return tuple(
            w
            for w in dict.fromkeys(raw_words(text))
            if w in self.listed_only_authors and self._word_frequency(w) < NAME_BELOW_ZIPF
        )

    def _expand(self, text: str) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
        """Lexicon phrases in the question, longest first, each word used once."""
        found: list[tuple[str, tuple[str, ...]]] = []
        covered: list[str] = []
        taken = [False] * len(text)
        for entry in self._patterned:
            for pattern in entry.patterns:
                for m in pattern.finditer(text):
                    if m.group(0) and not any(taken[m.start() : m.end()]):
                        taken[m.start() : m.end()] = [True] * (m.end() - m.start())
                        found.append((m.group(0), entry.statement))
                        covered.append(m.group(0))
        for typed, entry in self._typed:
            if typed not in text:  # cheap test first; most phrases are absent
                continue
            for m in phrase_re(typed).finditer(text):
                if any(taken[m.start() : m.end()]):
                    continue
                for i in range(m.start(), m.end()):
                    taken[i] = True
                found.append((typed, entry.statement))
                covered.append(typed)
        return found, covered

    @cached_property
    def shorthand(self) -> ShorthandReader:
        """Shorthand readings from the statement's own words, built on first need."""
        return ShorthandReader(
            self._texts, STOPWORDS, self._word_frequency, entry_texts=self._reference_texts
        )

    def population_phrases(self) -> list[tuple[str, tuple[str, ...]]]:
        """(typed phrase, statement words) of the lexicon entries that name a population:
        what a word the statement never uses may be read as by meaning."""
        names = {w for words in POPULATION_TERMS.values() for w in words}
        return [
            (typed, entry.statement)
            for entry in self.lexicon.entries
            if not entry.patterns and any(w in names for s in entry.statement for w in s.split())
            for typed in entry.typed
        ]

    def _shorthand(
        self,
        question: str,
        text: str,
        expansions: list[tuple[str, tuple[str, ...]]],
        covered: list[str],
    ) -> tuple[list[tuple[str, tuple[str, ...]]], tuple[str, ...]]:
        """Words the statement never uses, read as shorthand for words it does use; and the
        short rare ones no rule reads (unrecognised, so not evidence of a missing concept)."""
        taken = {w for t in covered for w in _words_of(t)} | {t.lower() for t, _ in expansions}
        as_typed = {w.lower(): w for w in re.findall(r"[A-Za-z]+", question)}  # "IVIs"
        read: list[tuple[str, tuple[str, ...]]] = []
        unrecognised: list[str] = []
        for word in dict.fromkeys(raw_words(text)):
            if (
                word in taken
                or word in self.corpus_words
                or word in STOPWORDS
                or word in FRAMING_WORDS
                or not word.isalpha()
                or len(word) < 3
            ):
                continue
            reading = self.shorthand.read(word, as_typed.get(word, word), raw_words(text))
            if reading is not None:
                read.append((word, reading.words))
            elif self.shorthand.unrecognised(word):
                unrecognised.append(word)
        return read, tuple(unrecognised)

    def _concept_terms(self, concepts: list[Concept]) -> tuple[tuple[frozenset[str], ...], ...]:
        return tuple(self._index_terms(c.terms) for c in concepts if c.mentioned)

    def _mentioned(self, reading: tuple[str, ...], terms: set[str]) -> bool:
        """A reading is mentioned when every index term of one of its words is in `terms`."""
        return any(t <= terms for t in self._index_terms(reading))

    def _word_reading(self, word: str, terms: set[str]) -> tuple[tuple[str, ...], bool]:
        """A question word's reading and whether the statement mentions it. A comparative or
        superlative of a word the statement uses is read as that word ("lowest" dose: the
        statement's "low"; "safer", "wider", "biggest"): the grade is the question's form, the
        adjective its concept. Only when the word itself is unmentioned."""
        if self._mentioned((word,), terms):
            return (word,), True
        for base in graded_bases(word, self._is_graded_sibling):
            if self._mentioned((base,), terms):
                return (base,), True
        return (word,), False

    def _is_graded_sibling(self, word: str) -> bool:
        return self._word_frequency(word) >= GRADE_SIBLING_ZIPF

    def _head(self, concepts: list[Concept]) -> dict:
        """The most specific concept, which a passage must state to answer rather than touch
        the question ("R-ketamine" in "is R-ketamine better", not "ketamine")."""
        if not concepts:
            return {}
        head = min(concepts, key=lambda c: (c.zipf, -len(c.typed)))
        terms = self._index_terms(head.terms) if head.mentioned else ()
        return {"head": head.typed, "head_terms": terms}

    def _index_terms(self, reading: tuple[str, ...]) -> tuple[frozenset[str], ...]:
        """The index terms of each word of a reading that has any."""
        return tuple(t for t in (frozenset(self.tokenizer.tokenize(w)) for w in reading) if t)

    def _zipf(self, typed: str) -> float:
        """General-English frequency of a typed concept; an abbreviation typed in capitals
        ("TGA", "IT") counts as specific whatever the lower-case word's frequency."""
        if typed.isupper():
            return 0.0
        return min((self._word_frequency(w) for w in raw_words(typed)), default=0.0)

    def _capital_terms(self, question: str) -> list[tuple[str, tuple[str, ...]]]:
        """Abbreviations typed in capitals ("IT", "TGA", "S8") that the corpus never uses:
        each is a concept of its own, read through the case-sensitive lexicon if listed."""
        if question.isupper():
            return []
        found = []
        for token in dict.fromkeys(re.findall(r"\b[A-Z][A-Z0-9]{1,5}\b", question)):
            if token in self._capitals:
                found.append((token, self._capitals[token].statement))
            elif token not in self.corpus_capitals and token.lower() not in self.lexicon_words:
                reading = self.shorthand.read(token.lower(), token, raw_words(question))
                found.append((token, reading.words if reading else (token.lower(),)))
        for token in dict.fromkeys(re.findall(r"\b[A-Z]{2,4}s\b", question)):  # "RRs"
            if token[:-1] not in self.corpus_capitals and token.lower() not in self.corpus_words:
                reading = self.shorthand.read(token.lower(), token, raw_words(question))
                if reading is not None:
                    found.append((token, reading.words))
        return found

    def _populations(
        self, text: str, expansions: list[tuple[str, tuple[str, ...]]]
    ) -> tuple[str, ...]:
        words = set(raw_words(text)) | {
            w for _, statement in expansions for s in statement for w in raw_words(s)
        }
        return populations_named(words)


def graded_bases(word: str, is_english: Callable[[str], bool]) -> list[str]:
    """The adjectives a comparative or superlative may grade: "lowest" -> low, "safer" ->
    saf, safe; "biggest" -> bigg, big; "easier" -> easi, easy. A word is taken for a grade
    only when English also has its sibling grade ("lower" beside "lowest", "safest" beside
    "safer"), so "user", "bother" and "interest" are left alone. Bases of three letters or more."""
    for ending, sibling in (("est", "er"), ("er", "est")):
        if word.endswith(ending):
            stem = word[: -len(ending)]
            if not is_english(stem + sibling):
                return []
            bases = [stem, stem + "e"]
            if len(stem) > 1 and stem[-1] == stem[-2]:
                bases.append(stem[:-1])
            if stem.endswith("i"):
                bases.append(stem[:-1] + "y")
            return [b for b in bases if len(b) >= 3]
    return []


def _words_of(phrase: str) -> list[str]:
    return raw_words(phrase)
