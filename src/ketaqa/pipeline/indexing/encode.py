"""Tokens and vectors for the passages to index, leaving out any cached abstract
that makes the tokenizer or the encoder fail.

An abstract is the publisher's text, fetched or imported by the user; one odd record (a
character the tokenizer trips on, a text the encoder rejects) must not stop the statement and
the other abstracts from being searchable. Such a file is named in `Encoded.skipped` and the
index is built without it; its bytes still count in the index fingerprint, so the index is not
rebuilt again until the file changes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.passages import Passage, passage_units
from ketaqa.pipeline.indexing.embedding import TextEncoder
from ketaqa.pipeline.indexing.tokenizer import ClinicalTokenizer, build_tokenizer
from ketaqa.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class Encoded:
    """What the index holds for the passages that could be tokenized and embedded."""

    passages: list[Passage]
    tokenizer: ClinicalTokenizer
    tokens: list[list[str]]
    vectors: np.ndarray
    unit_spans: list[list[tuple[int, int]]]
    unit_vectors: np.ndarray
    skipped: dict[str, str]  # doc_id of a skipped abstract -> why


def encode_passages(
    passages: list[Passage],
    references: dict[str, Reference],
    encoder: TextEncoder,
    progress: Progress,
) -> Encoded:
    """Vectors and tokens for every passage. Should one cached abstract crash the encoder or
    the tokenizer, it is dropped (and named in `skipped`) and the rest is indexed; a failure
    in the statement itself is raised, since there is no index without it."""
    skipped: dict[str, str] = {}

    def embed(group: list[Passage]) -> np.ndarray:
        texts = [p.index_text(references) for p in group]
        return encoder.encode(texts, show_progress=len(texts) > 200)

    def embed_units(group: list[Passage]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        spans = [passage_units(p) for p in group]
        texts = [p.text[s:e] for p, ss in zip(group, spans, strict=True) for s, e in ss]
        vectors = encoder.encode(texts, show_progress=len(texts) > 500)
        ends = np.cumsum([len(ss) for ss in spans])
        return list(zip(spans, np.split(vectors, ends[:-1]), strict=True))

    progress("embedding passages")
    vectors = _by_document(passages, skipped, "embedding", embed)
    progress("embedding sentences for highlights")
    units = _by_document([p for p, _ in vectors], skipped, "embedding sentences", embed_units)
    kept = [p for p, _ in units]
    while True:  # abbreviations are learned from exactly the passages indexed
        learned = _by_document(kept, skipped, "learning abbreviations", _learn)
        tokenizer = build_tokenizer(p.text for p, _ in learned)

        def tokenize(group: list[Passage], tok: ClinicalTokenizer = tokenizer) -> list:
            return [tok.tokenize(p.index_text(references)) for p in group]

        tokens = _by_document([p for p, _ in learned], skipped, "tokenizing", tokenize)
        if len(tokens) == len(kept):
            break
        kept = [p for p, _ in tokens]
    keep = {p.doc_id for p in kept}
    return Encoded(
        passages=kept,
        tokenizer=tokenizer,
        tokens=[t for _, t in tokens],
        vectors=np.stack([v for p, v in vectors if p.doc_id in keep]),
        unit_spans=[s for p, (s, _) in units if p.doc_id in keep],
        unit_vectors=np.concatenate([u for p, (_, u) in units if p.doc_id in keep]),
        skipped=skipped,
    )


def _learn(group: list[Passage]) -> list[None]:
    build_tokenizer(p.text for p in group)
    return [None] * len(group)


_R = TypeVar("_R")


def _by_document(
    passages: list[Passage],
    skipped: dict[str, str],
    what: str,
    work: Callable[[list[Passage]], Sequence[_R]],
) -> list[tuple[Passage, _R]]:
    """`work` (one result per passage) over all passages at once, or, when that raises,
    document by document so that only the abstracts it fails on are left out (and named in
    `skipped`). Returns each passage kept with its result."""
    try:
        return list(zip(passages, work(passages), strict=True))
    except Exception:
        log.debug("%s failed on the whole corpus; retrying document by document", what)
    out: list[tuple[Passage, _R]] = []
    for doc_id, grouped in itertools.groupby(passages, key=lambda p: p.doc_id):
        group = list(grouped)
        try:
            out.extend(zip(group, work(group), strict=True))
        except Exception as exc:
            if group[0].source != "abstract":
                raise
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            skipped[doc_id] = f"{what} failed ({reason})"
    return out
