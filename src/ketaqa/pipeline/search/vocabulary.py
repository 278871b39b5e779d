"""What the corpus says, as the question reader needs it: its index terms and its words.

Reading a question asks whether the statement mentions each of its words, so the reader needs
the corpus's terms (body and bibliography apart) and its words as typed. Tokenising every
passage for them is most of a reader's start-up (about 0.06 s of a cold `ketaqa ask`), so
they are kept beside the index, named by a hash of the tokenizer and the texts: `ketaqa index`
writes them, a cold question reads them, and another index or tokenizer never reads them. An
unreadable or missing file is recomputed (and rewritten when the folder can be written).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ketaqa.files import write_atomic
from ketaqa.pipeline.indexing.tokenizer import ClinicalTokenizer, raw_words

log = logging.getLogger(__name__)

VOCABULARY_DIR = "reader"  # inside the index folder
VOCABULARY_FORMAT = 1
_CAPITALS = re.compile(r"\b[A-Z][A-Z0-9]+\b")


@dataclass(frozen=True)
class CorpusVocabulary:
    body_terms: frozenset[str]  # index terms of the statement's own words, headings included
    reference_terms: frozenset[str]  # ... of its bibliography entries
    word_counts: dict[str, int]  # every word as typed (lower case), body and bibliography
    capitals: frozenset[str]  # words typed in capitals ("NMDA", "CRPS")

    @classmethod
    def of(
        cls, tokenizer: ClinicalTokenizer, texts: Sequence[str], references: Sequence[str]
    ) -> CorpusVocabulary:
        every = (*texts, *references)
        counts: dict[str, int] = {}
        for text in every:
            for w in raw_words(text):
                counts[w] = counts.get(w, 0) + 1
        return cls(
            body_terms=frozenset(t for text in texts for t in tokenizer.tokenize(text)),
            reference_terms=frozenset(t for text in references for t in tokenizer.tokenize(text)),
            word_counts=counts,
            capitals=frozenset(w for text in every for w in _CAPITALS.findall(text)),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": VOCABULARY_FORMAT,
                "body_terms": sorted(self.body_terms),
                "reference_terms": sorted(self.reference_terms),
                "word_counts": dict(sorted(self.word_counts.items())),
                "capitals": sorted(self.capitals),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CorpusVocabulary:
        data = json.loads(text)
        if data.get("format") != VOCABULARY_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {VOCABULARY_FORMAT}")
        counts = data["word_counts"]
        if not isinstance(counts, dict) or not all(isinstance(n, int) for n in counts.values()):
            raise ValueError("word counts are not whole numbers")
        return cls(
            body_terms=frozenset(data["body_terms"]),
            reference_terms=frozenset(data["reference_terms"]),
            word_counts=counts,
            capitals=frozenset(data["capitals"]),
        )


def corpus_vocabulary(
    tokenizer: ClinicalTokenizer,
    texts: Sequence[str],
    references: Sequence[str],
    keep_in: Path | None = None,
) -> CorpusVocabulary:
    """The vocabulary of these texts: read from `keep_in` when an earlier run kept it for the
    same tokenizer and texts, else computed (and kept there, replacing older ones)."""
    if keep_in is None:
        return CorpusVocabulary.of(tokenizer, texts, references)
    digest = hashlib.sha256()
    for part in (tokenizer.version, *texts, "\x1d", *references):
        digest.update(part.encode("utf-8") + b"\x1e")
    folder = Path(keep_in) / VOCABULARY_DIR
    path = folder / f"vocabulary-{digest.hexdigest()[:16]}.json"
    try:
        return CorpusVocabulary.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("reader vocabulary %s unreadable (%s); recomputed", path.name, exc)
    vocabulary = CorpusVocabulary.of(tokenizer, texts, references)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, vocabulary.to_json())
        for old in folder.glob("vocabulary-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.info("reader vocabulary not kept (%s); computed each time", exc)
    return vocabulary
