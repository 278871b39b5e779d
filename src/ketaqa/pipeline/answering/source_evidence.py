"""What the source says: beside a statement passage, the closest sentence of each cited abstract.

When a statement passage reports study X and X's abstract is indexed, a clinician wants to see
X's own words next to the statement's — including when they disagree (the statement cites a
review titled "… does not prevent chronic pain" for a benefit). For each cited reference with
indexed abstract passages, the abstract sentence nearest in meaning to the passage's marked
sentence is returned, with its section label (RESULTS, CONCLUSIONS …) and PMID.

Nothing is computed at query time but dot products: every sentence of every passage, abstracts
included, already has a vector in the index (`Index.units_of`). Nothing is generated either:
the text is a span of the abstract passage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketaqa.pipeline.documents.passages import Passage
from ketaqa.pipeline.indexing.index import Index

ABSTRACT = "abstract"


@dataclass(frozen=True)
class SourceEvidence:
    reference_key: str
    pmid: str | None
    label: str | None  # the abstract's section ("RESULTS"), None for an unstructured abstract
    text: str  # one sentence of the abstract, verbatim
    passage_id: str  # the abstract passage it comes from
    similarity: float

    def to_json(self) -> dict:
        return {
            "pmid": self.pmid,
            "label": self.label,
            "text": self.text,
            "reference_key": self.reference_key,
            "passage_id": self.passage_id,
        }


class SourceEvidenceFinder:
    """Looks up, per reference key, the indexed abstract sentences (built once per index)."""

    def __init__(self, index: Index):
        self.index = index
        self.row_of = {p.id: i for i, p in enumerate(index.passages)}
        self.abstract_rows: dict[str, list[int]] = {}
        for i, p in enumerate(index.passages):
            if p.source == ABSTRACT:
                for key in p.reference_keys:
                    self.abstract_rows.setdefault(key, []).append(i)

    def find(self, passage: Passage, highlight: tuple[int, int] | None) -> list[SourceEvidence]:
        """The closest abstract sentence for each cited reference with an indexed abstract."""
        if passage.source == ABSTRACT or not self.abstract_rows:
            return []
        keys = [k for k in dict.fromkeys(passage.reference_keys) if k in self.abstract_rows]
        row = self.row_of.get(passage.id)
        if not keys or row is None:
            return []
        claim = self._claim_vector(row, highlight)
        return [e for k in keys if (e := self._closest(k, claim)) is not None]

    def _claim_vector(self, row: int, highlight: tuple[int, int] | None) -> np.ndarray:
        """The marked sentence's vector, else the mean of the passage's sentences."""
        spans, vectors = self.index.units_of(row)
        if highlight is not None and tuple(highlight) in spans:
            return vectors[spans.index(tuple(highlight))]
        mean = vectors.mean(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)

    def _closest(self, key: str, claim: np.ndarray) -> SourceEvidence | None:
        best: tuple[float, int, tuple[int, int]] | None = None
        for row in self.abstract_rows[key]:
            spans, vectors = self.index.units_of(row)
            if not spans:
                continue
            scores = vectors @ claim
            j = int(np.argmax(scores))  # first of equals: deterministic
            if best is None or float(scores[j]) > best[0]:
                best = (float(scores[j]), row, spans[j])
        if best is None:
            return None
        score, row, (start, end) = best
        p = self.index.passages[row]
        ref = self.index.references.get(key)
        parts = p.section.parts
        label = parts[2] if len(parts) > 2 else None  # (short, "Abstract", LABEL)
        return SourceEvidence(
            key, ref.pmid if ref else None, label, p.text[start:end], p.id, round(score, 4)
        )
