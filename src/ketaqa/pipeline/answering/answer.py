"""From ranked hits to an `Answer`: highlights, and a verdict on whether it answers.

Nothing is generated: a highlight is a span of the passage's own text (a bullet or sentence),
chosen by its similarity to the question. The verdict (`answers`, `related`, `not_covered`)
comes from a model fitted on the dev split (`verdict.py`) over signals computed here from the
evidence passages. A bibliography entry, the title or the contents are never evidence for a
clinical question: they name publications, they do not answer. The nearest passages are
returned whatever the verdict, marked as related when they do not answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ketaqa.pipeline.answering.verdict import SIGNALS as SIGNAL_NAMES
from ketaqa.pipeline.answering.verdict import Verdict, VerdictModel, decide
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.outline import BlockKind
from ketaqa.pipeline.documents.passages import Passage
from ketaqa.pipeline.indexing.index import Index
from ketaqa.pipeline.search.populations import CONTRAINDICATED, passage_populations
from ketaqa.pipeline.search.priors import PRIOR_KINDS
from ketaqa.pipeline.search.question_form import DOCUMENT_KINDS, FIGURE, kinds_given
from ketaqa.pipeline.search.reading import QueryAnalysis
from ketaqa.pipeline.search.retrieve import Hit

LEXICAL_WEIGHT_IN_HIGHLIGHT = 0.5
EVIDENCE_PASSAGES = 3  # how many top evidence passages the verdict looks at
SIGNAL_DEPTH = 10  # hits the verdict reads, whatever top-k the user asked for
FOREIGN_WORD_PENALTY = 0.05  # the fallback score's, used only without a fitted model
QUESTION_UNIT_PENALTY = 1.0  # effectively: never, when the passage has another unit


@dataclass(frozen=True)
class RankedPassage:
    rank: int
    passage: Passage
    score: float
    highlight: tuple[int, int]  # span inside passage.text
    highlight_score: float

    @property
    def highlight_text(self) -> str:
        start, end = self.highlight
        return self.passage.text[start:end]


@dataclass(frozen=True)
class Answer:
    question: str
    verdict: Verdict
    confidence: float  # the model's probability that a passage answers
    # the question's concepts the statement lacks, as told (`QueryAnalysis.missing_named`)
    missing_concepts: tuple[str, ...]
    passages: tuple[RankedPassage, ...]
    unrecognised: tuple[str, ...] = ()  # shorthand ketaqa could not read, shown as such
    # authors named in the question whose papers the corpus only lists, not reports
    listed_only: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.verdict is Verdict.ANSWERS


class Answerer:
    def __init__(self, index: Index, model: VerdictModel | None, abstain_threshold: float):
        self.index = index
        self.model = model
        self.abstain_threshold = abstain_threshold  # the fallback's, without a fitted model
        n = len(index.tokens)
        df: dict[str, int] = {}
        for tokens in index.tokens:
            for t in set(tokens):
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log(1 + n / d) for t, d in df.items()}
        self._oov_idf = math.log(1 + n)  # a term the corpus never uses weighs the most
        self._token_sets = [set(t) for t in index.tokens]
        # each passage's units as term sets, tokenised when a passage is first highlighted:
        # a cold `ketaqa ask` highlights five passages, not all of them
        self._unit_terms: dict[int, list[set[str]]] = {}
        self._kinds = [p.kind for p in index.passages]
        self._contraindications = [
            passage_populations(p.text, str(p.section)) & CONTRAINDICATED for p in index.passages
        ]
        self._kinds_given = [kinds_given(p.text) for p in index.passages]
        # entries whose paper's title carries no figure ("A retrospective 5-year study of 51
        # patients" does): such an entry never gives a dose, a count or a duration
        self._entry_without_figure = [
            p.kind == BlockKind.ENTRY and not _has_figure(index.references, p.reference_key)
            for p in index.passages
        ]

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._oov_idf)

    def answer(
        self, analysis: QueryAnalysis, hits: list[Hit], query_vector: np.ndarray, top_k: int
    ) -> Answer:
        """Highlights for the first `top_k` hits; the verdict from all of them."""
        terms = self.terms(analysis)
        ranked = []
        for rank, hit in enumerate(hits[:top_k], start=1):
            span, score = self.highlight(hit.passage, terms, query_vector)
            ranked.append(
                RankedPassage(rank, self.index.passages[hit.passage], hit.score, span, score)
            )
        values = self.signals(analysis, hits, query_vector)
        if self.model is not None:
            probability = self.model.probability(values)
            threshold = self.model.threshold
        else:
            probability = fallback_score(values)
            threshold = self.abstain_threshold
        missing = analysis.missing_named
        verdict = decide(probability, threshold, missing)
        if analysis.missing_treatments:
            # a drug or a route the statement never mentions is named in what is asked
            # ("lignocaine infusion rate", "IM ketamine dose"): no passage answers it,
            # whatever else the passages cover
            verdict = Verdict.NOT_COVERED
        if verdict is Verdict.NOT_COVERED and analysis.about_patient:
            verdict = Verdict.RELATED  # its contraindications always speak to one patient
        if verdict is Verdict.ANSWERS and analysis.asks_about_listed_only:
            verdict = Verdict.RELATED  # the entry names the paper; no passage reports it
        first = self.evidence(hits, analysis)[:1]  # the passage both rules below read
        if self.states_contraindication(analysis, first):
            verdict = self.contraindication_verdict(analysis, verdict)
        if verdict is Verdict.ANSWERS and self.figure_asked_of_entry(analysis, first):
            # the paper's entry, for "what dose did that listed trial use?": it names the
            # paper; what the paper found is not in the corpus
            verdict = Verdict.RELATED
        if verdict is Verdict.ANSWERS and not self.gives_what_is_asked(analysis, first):
            # the topic's passage without the kind of answer asked for, even a
            # contraindication's ("how often LFTs on infusions?"): related, never "not covered"
            verdict = Verdict.RELATED
        return Answer(
            analysis.question,
            verdict,
            round(probability, 4),
            missing,
            tuple(ranked),
            analysis.unrecognised,
            analysis.listed_only if analysis.asks_about_listed_only else (),
        )

    def gives_what_is_asked(self, analysis: QueryAnalysis, first: list[int]) -> bool:
        """Whether the first evidence passage visibly carries each kind of answer the
        question's form asks for (`question_form.kinds_asked`). "How often should LFTs be
        checked on infusions?" finds the passage on hepatic dysfunction, which shares every
        word and gives no interval; "the PMID of Orhurhu 2019" finds the item, which gives
        none: each passage is related, it does not answer."""
        if not analysis.kinds_asked:
            return True
        return bool(first) and set(analysis.kinds_asked) <= self._kinds_given[first[0]]

    def figure_asked_of_entry(self, analysis: QueryAnalysis, first: list[int]) -> bool:
        """Whether the question wants a figure (a dose, a count, a duration) and the first
        evidence passage is a bibliography entry whose title carries none. An entry gives a
        paper's authors, title, journal and year, not what it used or found; a question that
        asks which paper, or who wrote it, is answered by the entry whatever its wording."""
        return (
            bool(first)
            and self._entry_without_figure[first[0]]
            and analysis.ask_answer_type == FIGURE
            and not analysis.identifies_publication
        )

    def states_contraindication(self, analysis: QueryAnalysis, first: list[int]) -> bool:
        """Whether the question names a contraindication the statement lists and the first
        evidence passage states it. Then the verdict is `answers`, whatever the model's
        probability: a clinician asking about a patient with psychosis must never read "the
        statement does not cover this" above the passage that says to avoid ketamine.

        For a question about one patient, a condition read by meaning counts too ("delusional
        disorder" as a psychosis, "crystal meth" as substance abuse): the clinician named the
        patient's condition in their own words, and the passage that lists it comes first."""
        named = set(analysis.populations)
        if analysis.about_patient:
            named |= set(analysis.meant_populations)
        named &= CONTRAINDICATED
        return bool(named and first and named & self._contraindications[first[0]])

    @staticmethod
    def contraindication_verdict(analysis: QueryAnalysis, verdict: Verdict) -> Verdict:
        """The verdict when the first evidence passage states a contraindication the question
        names (`states_contraindication`). Asked whether ketamine may be given ("bipolar with
        psychosis, ketamine ok?"), or asked nothing the statement does not mention ("raised IOP
        ketamine"), the contraindication is the answer: `answers`, whatever the model says.
        Asked something else of such a patient, in words the statement never uses ("should her
        levetiracetam be adjusted?", "what BP cut-off?"), the passage speaks to the patient but
        may not answer: the model decides, and the verdict is never "not covered"."""
        if analysis.whether_to_give or not analysis.missing_named:
            return Verdict.ANSWERS
        return Verdict.RELATED if verdict is Verdict.NOT_COVERED else verdict

    def evidence(self, hits: list[Hit], analysis: QueryAnalysis) -> list[int]:
        """The passages a verdict may rest on: never a bibliography entry, the title or the
        contents, unless the question looks up a publication (or, for the title and contents,
        asks about the document itself)."""
        excluded = PRIOR_KINDS
        if analysis.about_document:
            excluded = tuple(k for k in PRIOR_KINDS if k not in DOCUMENT_KINDS)
        ids = [h.passage for h in hits if analysis.lookup or self._kinds[h.passage] not in excluded]
        return ids[:EVIDENCE_PASSAGES]

    def coverage(self, terms: list[str], passage_ids: list[int]) -> float:
        """Share of the question's term weight found in the given passages."""
        if not terms:
            return 0.0
        present: set[str] = set().union(*(self._token_sets[i] for i in passage_ids))
        total = sum(self.idf(t) for t in terms)
        return sum(self.idf(t) for t in terms if t in present) / total

    def highlight(
        self, i: int, terms: list[str], query_vector: np.ndarray
    ) -> tuple[tuple[int, int], float]:
        """The unit (bullet or sentence) closest to the question, in meaning and in terms."""
        spans, vectors = self.index.units_of(i)
        text = self.index.passages[i].text
        similarity = vectors @ query_vector
        total = sum(self.idf(t) for t in terms) or 1.0
        best, best_score = spans[0], -math.inf
        for (start, end), sim, unit_terms in zip(
            spans, similarity, self.unit_terms(i), strict=True
        ):
            lexical = sum(self.idf(t) for t in terms if t in unit_terms) / total
            score = float(sim) + LEXICAL_WEIGHT_IN_HIGHLIGHT * lexical
            if len(spans) > 1 and text[start:end].rstrip('”"’ ').endswith("?"):
                score -= QUESTION_UNIT_PENALTY  # a quoted question is not its own answer
            if score > best_score:
                best, best_score = (start, end), score
        return best, best_score

    def unit_terms(self, i: int) -> list[set[str]]:
        """The terms of each unit (bullet or sentence) of passage `i`."""
        if i not in self._unit_terms:
            text = self.index.passages[i].text
            tokenize = self.index.tokenizer.tokenize
            self._unit_terms[i] = [set(tokenize(text[s:e])) for s, e in self.index.unit_spans[i]]
        return self._unit_terms[i]

    def terms(self, analysis: QueryAnalysis) -> list[str]:
        return list(dict.fromkeys(self.index.tokenizer.tokenize(analysis.search_text)))

    def signals(
        self, analysis: QueryAnalysis, hits: list[Hit], vector: np.ndarray
    ) -> dict[str, float]:
        """The query-performance signals the verdict model reads (see `verdict.SIGNALS`)."""
        terms = self.terms(analysis)
        top = self.evidence(hits, analysis)
        out = dict.fromkeys(SIGNAL_NAMES, 0.0)
        concepts = analysis.concepts
        out["missing_count"] = float(len(analysis.missing_concepts))
        out["missing_specific"] = float(len(analysis.missing_specific))
        out["missing_share"] = len(analysis.missing_concepts) / len(concepts) if concepts else 0.0
        out["foreign_count"] = float(len(analysis.unknown_words))
        out["missing_salience"] = analysis.missing_salience
        out["head_missing"] = float(analysis.head_missing)
        out["unrecognised_count"] = float(len(analysis.unrecognised))
        idfs = [self.idf(t) for t in terms]
        if idfs:
            out["max_idf"] = max(idfs)
            out["mean_idf"] = sum(idfs) / len(idfs)
        if not top:
            return out
        out["coverage_top3"] = self.coverage(terms, top)
        out["coverage_top1"] = self.coverage(terms, top[:1])
        top_terms = self._token_sets[top[0]]
        out["head_stated_top1"] = float(any(t <= top_terms for t in analysis.head_terms))
        vectors = np.vstack([self.index.dense.reconstruct(i) for i in top])
        out["passage_closeness"] = max(float((vectors @ vector).max()), 0.0)
        out["sentence_closeness"] = max(
            max(float((self.index.units_of(i)[1] @ vector).max()), 0.0) for i in top
        )
        bm25 = [h.bm25 or 0.0 for h in hits[:SIGNAL_DEPTH]]
        mean = sum(bm25) / len(bm25)
        if mean > 0:
            out["nqc"] = float(np.std(bm25)) / mean
        first = next(h for h in hits if h.passage == top[0])
        out["bm25_top"] = (first.bm25 or 0.0) / max(len(terms), 1)
        if len(hits) > 1 and hits[0].score > 0:
            out["fused_margin"] = (hits[0].score - hits[1].score) / hits[0].score
        return out


def _has_figure(references: dict[str, Reference], key: str | None) -> bool:
    """Whether the title of the paper `key` names a figure ("51 patients", "5-year")."""
    reference = references.get(key) if key else None
    return reference is not None and any(c.isdigit() for c in reference.title)


def fallback_score(values: dict[str, float]) -> float:
    """The hand-set score used before a verdict model is fitted (`ketaqa eval --tune`)."""
    return (
        0.5 * values["coverage_top3"]
        + 0.25 * values["passage_closeness"]
        + 0.25 * values["sentence_closeness"]
        - FOREIGN_WORD_PENALTY * values["foreign_count"]
    )
