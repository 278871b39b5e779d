"""The corpus as the pipeline reads it: every document, and the references merged
from what their bibliographies print and what `references.json` reviews.

It stands after the structure parser because a document's own bibliography is read by parsing
it (`bibliography.with_bibliographies`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from ketaqa.errors import CorpusError
from ketaqa.pipeline.documents.bibliography import with_bibliographies
from ketaqa.pipeline.documents.corpus import (
    REFERENCES_FILE,
    Corpus,
    Document,
    corpus_files,
    load_document,
    load_references,
)

log = logging.getLogger(__name__)


def load_corpus(corpus_dir: Path, extra_documents: Iterable[Document] = ()) -> Corpus:
    """Read every document and the references; collect unreadable files as problems."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus directory not found: {corpus_dir}")
    documents: list[Document] = []
    problems: list[str] = []
    for path in corpus_files(corpus_dir):
        try:
            documents.append(load_document(path, corpus_dir))
        except CorpusError as exc:
            log.warning("%s", exc)
            problems.append(str(exc))
    documents.extend(extra_documents)
    reviewed = load_references(corpus_dir / REFERENCES_FILE)
    references, printed = with_bibliographies(tuple(documents), reviewed)
    keys = frozenset(r.key for r in reviewed)
    return Corpus(tuple(documents), references, tuple(problems), printed, keys)
