"""Vectors kept beside the ONNX query encoder that made them, so a warm or cold `ask` reads
them instead of encoding: the lexicon's population phrases (`encode_fixed`) and what each word
of the model's vocabulary reads as (`nearest_fixed`). Each file is named by a hash of what it
was made from, inside the encoder's own folder, so another model, lexicon or floor never reads
it; an unreadable file is encoded again, never a wrong reading.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging

import numpy as np

from ketaqa.files import write_atomic
from ketaqa.pipeline.indexing.embedding import DIMENSION, TextEncoder
from ketaqa.pipeline.indexing.fast_encoder import OnnxEncoder

log = logging.getLogger(__name__)


def encode_fixed(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    """Vectors of texts that change only with the code (the lexicon's population phrases),
    kept beside the ONNX encoder that made them: a cold `ketaqa ask` reads them instead of
    encoding them (about 0.13 s). They are named by the texts' hash inside the encoder's own
    folder, so another model or another lexicon never reads them. Another encoder, an
    unreadable file or a failed write just encodes."""
    if not isinstance(encoder, OnnxEncoder):
        return encoder.encode(texts)
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = encoder.path.parent / f"fixed-{digest}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape == (len(texts), DIMENSION) and vectors.dtype == np.float32:
            return vectors
    except (OSError, ValueError):
        pass
    vectors = encoder.encode(texts)
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as exc:
        log.info("fixed vectors not kept (%s); encoded each time", exc)
    return vectors


def nearest_fixed(
    encoder: TextEncoder,
    words: list[str],
    targets: np.ndarray,
    floor: float,
    build: bool = False,
) -> dict[str, tuple[int, float]] | None:
    """For words that change only with the model (its vocabulary's whole words), the nearest
    row of `targets` (the population phrases' vectors) and its similarity, for the words whose
    nearest is at least `floor`; every other word of `words` reads as nothing.

    Encoding a vignette's missing words is a second encoder run of about 2.5 ms on a warm
    `ask`; read from this table, it is none for a word the model knows. The table is made by
    `ketaqa index` (`build`, about 10 s for 22 000 words) and kept beside the ONNX encoder,
    named by the words', the targets' and the floor's hash, so another model, lexicon or floor
    never reads it. None (encode each question's words) for another encoder, or when the table
    was not built; an unreadable table is None too, never a wrong reading."""
    if not isinstance(encoder, OnnxEncoder):
        return None
    digest = hashlib.sha256()
    digest.update("\n".join(words).encode("utf-8"))
    digest.update(np.ascontiguousarray(targets, dtype=np.float32).tobytes())
    digest.update(repr(floor).encode())
    path = encoder.path.parent / f"nearest-{digest.hexdigest()[:16]}.json"
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        return {w: (int(i), float(s)) for w, (i, s) in kept.items()}
    except (OSError, ValueError, TypeError) as exc:
        if not build:
            log.info("word readings not kept (%s); each question's words are encoded", exc)
            return None
    similarity = encoder.encode(words) @ np.asarray(targets, dtype=np.float32).T
    best = similarity.argmax(axis=1)
    table = {
        word: (int(b), float(row[b]))
        for word, b, row in zip(words, best, similarity, strict=True)
        if float(row[b]) >= floor
    }
    try:
        write_atomic(path, json.dumps(table, sort_keys=True))
    except OSError as exc:
        log.info("word readings not kept (%s); each question's words are encoded", exc)
    return table
