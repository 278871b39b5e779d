"""An answer as every front end shows it: each passage with its citation, the reference it
reports and what the cited abstract says, built once per question.

`Assistant.ask` returns an `AnswerView`; the CLI, the JSON API, the app and the evaluation read
it (or its `to_json()`, the `ketaqa ask --json` contract) and only render it. Nothing here
words anything of its own: citations are the references' own records.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaqa.pipeline.answering.answer import Answer, RankedPassage
from ketaqa.pipeline.answering.source_evidence import SourceEvidence, SourceEvidenceFinder
from ketaqa.pipeline.answering.verdict import Verdict, verdict_sentence
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.passages import Passage
from ketaqa.pipeline.indexing.index import Index


def citation_text(index: Index, passage: Passage) -> str:
    """The passage's cited references as the bibliography words them, or its document's own
    citation when it cites none with a title (a placeholder record is used only alone)."""
    refs = [index.references[k] for k in passage.reference_keys if k in index.references]
    refs = [r for r in refs if r.kind != "placeholder"] or refs
    if refs and all(r.title for r in refs):
        return "; ".join(r.citation() for r in refs)
    return index.document_citation(passage.doc_id)


@dataclass(frozen=True)
class ShownPassage:
    """A ranked passage with what is shown beside it."""

    ranked: RankedPassage
    citation: str
    reference: Reference | None  # the record of the study the passage reports, if any
    source_evidence: tuple[SourceEvidence, ...]

    @property
    def rank(self) -> int:
        return self.ranked.rank

    @property
    def passage(self) -> Passage:
        return self.ranked.passage

    @property
    def score(self) -> float:
        return self.ranked.score

    @property
    def highlight(self) -> tuple[int, int]:
        return self.ranked.highlight

    @property
    def highlight_text(self) -> str:
        return self.ranked.highlight_text

    def to_json(self) -> dict:
        p, ref = self.passage, self.reference
        return {
            "rank": self.rank,
            "id": p.id,
            "text": p.text,
            "highlight": self.highlight_text,
            "section": str(p.section),
            "page": p.pages.first,
            "page_end": p.pages.last,
            "pages": p.pages.label(),
            "source": p.source,
            "citation": self.citation,
            "reference_key": p.reference_key,
            "reference_keys": list(p.reference_keys),
            "doi": ref.doi if ref else None,
            "pmid": ref.pmid if ref else None,
            "citation_note": ref.citation_note if ref else None,
            "footnotes": [{"mark": f.mark, "text": f.text} for f in p.footnotes],
            "score": round(float(self.score), 6),
            "source_evidence": [e.to_json() for e in self.source_evidence],
        }


@dataclass(frozen=True)
class AnswerView:
    """The verdict and the shown passages of one question."""

    answer: Answer
    passages: tuple[ShownPassage, ...]

    @property
    def question(self) -> str:
        return self.answer.question

    @property
    def verdict(self) -> Verdict:
        return self.answer.verdict

    @property
    def answerable(self) -> bool:
        return self.answer.answerable

    @property
    def confidence(self) -> float:
        return self.answer.confidence

    @property
    def missing_concepts(self) -> tuple[str, ...]:
        return self.answer.missing_concepts

    @property
    def unrecognised(self) -> tuple[str, ...]:
        return self.answer.unrecognised

    @property
    def listed_only(self) -> tuple[str, ...]:
        return self.answer.listed_only

    @property
    def sentence(self) -> str:
        """The verdict in words, as every surface shows it."""
        return verdict_sentence(self.verdict, self.missing_concepts, self.listed_only)

    def to_json(self) -> dict:
        """The `ketaqa ask --json` and `/api/ask` contract (see README)."""
        return {
            "question": self.question,
            "answerable": self.answerable,
            "verdict": self.verdict.value,
            "missing_concepts": list(self.missing_concepts),
            "unrecognised": list(self.unrecognised),
            "listed_only": list(self.listed_only),
            "confidence": self.confidence,
            "passages": [sp.to_json() for sp in self.passages],
        }


def view_answer(answer: Answer, index: Index, sources: SourceEvidenceFinder) -> AnswerView:
    """Everything shown beside each passage of `answer`, looked up once."""
    shown = []
    for rp in answer.passages:
        p = rp.passage
        ref = index.references.get(p.reference_key) if p.reference_key else None
        evidence = tuple(sources.find(p, rp.highlight))
        shown.append(ShownPassage(rp, citation_text(index, p), ref, evidence))
    return AnswerView(answer, tuple(shown))
