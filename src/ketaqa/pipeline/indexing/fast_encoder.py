"""Query-time embeddings without torch: the same MiniLM model, exported to ONNX and run by
onnxruntime, with the `tokenizers` library for WordPiece.

Importing sentence-transformers (and so torch) costs seconds; answering one question needs one
small forward pass. So queries take this path, while index builds keep the torch `Encoder`:

    export_onnx(index_dir)      torch -> <index_dir>/encoders/onnx-<model hash>/model.onnx,
                                checked against the torch model on probe texts before it is kept
    query_encoder(index_dir)    an `OnnxEncoder` when that file exists, is intact and was exported
                                from the packaged weights (same sha256), else the torch `Encoder`

Nothing is downloaded: the ONNX file is made here from `model.safetensors`. The vectors match the
torch path (mean pooling over real tokens, L2-normalised, at most `max_seq_length` tokens, the
tokenizer's own lower-casing) to a cosine of 0.9999 or better, which `export_onnx` checks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ketaqa.config import offline_env
from ketaqa.errors import KetaqaError
from ketaqa.files import CHECKSUMS_FILE, sha256_file, sha256_file_memo, write_atomic
from ketaqa.pipeline.indexing.embedding import (
    DIMENSION,
    Encoder,
    TextEncoder,
    model_dir,
    model_fingerprint,
)
from ketaqa.progress import Progress, quiet

log = logging.getLogger(__name__)

ARTEFACT_FORMAT = "ketaqa-onnx-1"
ENCODERS_DIR = "encoders"  # under the index directory, beside builds/ (which rebuilds prune)
ONNX_FILE = "model.onnx"
META_FILE = "encoder.json"
OPSET = 17
MIN_COSINE = 0.9999  # an export that drifts further from torch than this is not kept
PROBES = (
    "What dose of ketamine is recommended for complex regional pain syndrome (CRPS)?",
    "Ketamine",
    "THE NMDA RECEPTOR ANTAGONIST IS USED IN PALLIATIVE CARE AND FOR OPIOID-INDUCED HYPERALGESIA.",
    "Psychotomimetic effects, hepatotoxicity and urological harm limit long-term use; "
    "0.1-0.5 mg/kg/h i.v. infusions were studied in small RCTs. " * 12,
    "",
)

# ---------------------------------------------------------------------------------------------
# the model folder's own configuration


@dataclass(frozen=True)
class ModelConfig:
    """What the sentence-transformers folder says about tokenising and pooling."""

    max_seq_length: int
    lower_case: bool  # tokenizer_config.json do_lower_case
    normalizer_lowercases: bool  # tokenizer.json applies it already
    pooling: str  # only "mean" is supported
    normalize: bool  # a Normalize module follows the pooling

    @classmethod
    def read(cls, path: Path) -> ModelConfig:
        def load(name: str) -> dict:
            file = path / name
            return json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}

        st_config = load("sentence_bert_config.json")
        tok_config = load("tokenizer_config.json")
        tokenizer = load("tokenizer.json")
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        pooling_dir = next(
            (m["path"] for m in modules if m["type"].endswith("models.Pooling")), "1_Pooling"
        )
        pooling_cfg = load(f"{pooling_dir}/config.json")
        modes = [k for k, v in pooling_cfg.items() if k.startswith("pooling_mode") and v is True]
        pooling = "mean" if modes == ["pooling_mode_mean_tokens"] else "+".join(modes) or "?"
        normalizer = tokenizer.get("normalizer") or {}
        return cls(
            max_seq_length=int(st_config.get("max_seq_length") or 256),
            lower_case=bool(tok_config.get("do_lower_case", False)),
            normalizer_lowercases=bool(normalizer.get("lowercase", False)),
            pooling=pooling,
            normalize=any(m["type"].endswith("models.Normalize") for m in modules),
        )


def _tokenizer(path: Path, config: ModelConfig):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    # tokenizer.json ships with a fixed 128-token padding and truncation; sentence-transformers
    # truncates at max_seq_length and pads each batch to its longest text.
    tokenizer.enable_truncation(max_length=config.max_seq_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the attention mask, then L2-normalised (float32)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden.astype(np.float32) * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# the encoder


class OnnxEncoder:
    """`encode(texts)` -> L2-normalised float32 vectors, one row per text, like `Encoder`."""

    kind = "onnxruntime"

    def __init__(
        self,
        onnx_path: Path,
        model_path: Path | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ):
        import onnxruntime as ort

        self.path = Path(onnx_path)
        self.model_path = model_path or model_dir()
        self.batch_size = batch_size
        self.config = ModelConfig.read(self.model_path)
        if self.config.pooling != "mean":
            raise KetaqaError(
                f"the ONNX path supports mean pooling only, not {self.config.pooling}"
            )
        self._tokenizer = _tokenizer(self.model_path, self.config)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no busy-waiting between runs: a query is one short run, and spinning threads would
        # take the cores from everything else in the process (BM25, FAISS, a torch encoder)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise KetaqaError(f"cannot load {self.path} ({exc}); run `ketaqa index`") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _prepare(self, texts: list[str]) -> list[str]:
        if self.config.lower_case and not self.config.normalizer_lowercases:
            return [t.lower() for t in texts]
        return texts

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        texts = self._prepare(list(texts))
        # like sentence-transformers: longest first, so each batch pads little
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        starts = range(0, len(order), self.batch_size)
        if show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            rows = order[start : start + self.batch_size]
            out[rows] = self._forward([texts[i] for i in rows])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return mean_pool(hidden, mask)


# ---------------------------------------------------------------------------------------------
# the artefact under the index directory


def artefact_dir(index_dir: Path, model_hash: str | None = None) -> Path:
    return Path(index_dir) / ENCODERS_DIR / f"onnx-{(model_hash or model_fingerprint())[:16]}"


def fast_encoder_status(index_dir: Path, model_path: Path | None = None) -> str:
    """ "ok", "missing", "stale: …" or "damaged: …" for the exported query encoder."""
    model_path = model_path or model_dir()
    memo = Path(index_dir) / CHECKSUMS_FILE
    model_hash = model_fingerprint(model_path, memo)
    folder = artefact_dir(index_dir, model_hash)
    meta_path, onnx_path = folder / META_FILE, folder / ONNX_FILE
    if not meta_path.exists():
        return "missing: the ONNX query encoder has not been exported"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"damaged: {META_FILE} unreadable ({exc})"
    if not isinstance(meta, dict) or meta.get("format") != ARTEFACT_FORMAT:
        return f"stale: {META_FILE} is not format {ARTEFACT_FORMAT}"
    if meta.get("model_hash") != model_hash:
        return "stale: exported from other model weights"
    if meta.get("max_seq_length") != ModelConfig.read(model_path).max_seq_length:
        return "stale: max_seq_length changed"
    if not onnx_path.exists():
        return f"damaged: {ONNX_FILE} is missing"
    if sha256_file_memo(onnx_path, memo) != meta.get("onnx_sha256"):
        return f"damaged: {ONNX_FILE} does not match its checksum"
    return "ok"


def load_fast_encoder(index_dir: Path, model_path: Path | None = None) -> OnnxEncoder | None:
    """The ONNX encoder when its artefact is intact and matches the model, else None."""
    status = fast_encoder_status(index_dir, model_path)
    if status != "ok":
        log.info("fast query encoder unavailable: %s", status)
        return None
    try:
        model_hash = model_fingerprint(model_path or model_dir(), Path(index_dir) / CHECKSUMS_FILE)
        folder = artefact_dir(index_dir, model_hash)
        return OnnxEncoder(folder / ONNX_FILE, model_path)
    except (ImportError, KetaqaError) as exc:
        log.warning("fast query encoder unavailable: %s", exc)
        return None


def query_encoder(
    index_dir: Path,
    export_missing: bool = False,
    progress: Progress = quiet,
) -> TextEncoder:
    """The encoder for questions: ONNX when its artefact is there and current, else torch.

    With `export_missing`, a missing or stale artefact is exported first (this loads torch
    once, a few seconds); when that fails the torch `Encoder` is returned, with a message.
    """
    fast = load_fast_encoder(index_dir)
    if fast is not None:
        return fast
    if export_missing and ensure_fast_encoder(index_dir, progress):
        fast = load_fast_encoder(index_dir)
        if fast is not None:
            return fast
    return Encoder()


def ensure_fast_encoder(index_dir: Path, progress: Progress = quiet) -> bool:
    """Export the ONNX query encoder unless a current one exists; False (with a message) when
    it cannot be made here, e.g. without the `onnx` package torch's exporter needs."""
    status = fast_encoder_status(index_dir)
    if status == "ok":
        return True
    progress(f"query encoder {status}; exporting it to ONNX")
    try:
        export_onnx(index_dir, progress=progress)
    except ImportError as exc:
        progress(f"cannot export the ONNX query encoder ({exc}); queries will use torch")
        return False
    except Exception as exc:  # an optional speed-up: any failure leaves the torch path
        log.warning("ONNX export failed", exc_info=True)
        progress(f"ONNX export failed ({exc}); queries will use torch")
        return False
    return True


# ---------------------------------------------------------------------------------------------
# export (needs torch, transformers and onnx: run at index-build time, never per query)


def export_onnx(
    index_dir: Path,
    model_path: Path | None = None,
    progress: Progress = quiet,
) -> Path:
    """Export the packaged weights to ONNX under `index_dir`, verify, and return the folder."""
    import warnings

    offline_env()
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    try:
        import onnx  # noqa: F401  torch's exporter needs it; fail early with a clear message
    except ImportError as exc:
        raise ImportError("the `onnx` package is not installed") from exc

    started = time.perf_counter()
    model_path = model_path or model_dir()
    config = ModelConfig.read(model_path)
    if config.pooling != "mean":
        raise KetaqaError(f"the ONNX path supports mean pooling only, not {config.pooling}")
    model_hash = model_fingerprint(model_path)
    folder = artefact_dir(index_dir, model_hash)

    hf_logging.disable_progress_bar()
    # eager attention traces to plain MatMul/Softmax ops with the padding mask kept as an input
    model = AutoModel.from_pretrained(
        str(model_path), attn_implementation="eager", local_files_only=True
    )
    model.eval()

    tokenizer = _tokenizer(model_path, config)
    module, args, names, axes = _traceable(model, tokenizer, torch)

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{ONNX_FILE}.{os.getpid()}.tmp"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,  # the TorchScript exporter needs `onnx` only, not onnxscript
            )
        cosine = _check_export(tmp, model_path, model, tokenizer, torch)
        if cosine < MIN_COSINE:
            raise KetaqaError(
                f"the ONNX export drifts from the torch model (cosine {cosine:.6f} < {MIN_COSINE})"
            )
        onnx_sha = sha256_file(tmp)
        os.replace(tmp, folder / ONNX_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "format": ARTEFACT_FORMAT,
        "model_hash": model_hash,
        "onnx_sha256": onnx_sha,
        "max_seq_length": config.max_seq_length,
        "pooling": config.pooling,
        "opset": OPSET,
        "torch": torch.__version__,
        "min_probe_cosine": round(cosine, 8),
        "export_seconds": round(time.perf_counter() - started, 3),
    }
    write_atomic(folder / META_FILE, json.dumps(meta, indent=2))  # last: marks it complete
    _remove_other_exports(folder)
    progress(f"ONNX query encoder exported in {meta['export_seconds']:.1f} s -> {folder}")
    return folder


def _traceable(model, tokenizer, torch) -> tuple:
    """The model as a module returning the last hidden state, with sample inputs, their names
    and dynamic axes, ready for `torch.onnx.export`."""

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer.encode_batch(["a short probe", "a longer probe sentence, padded less"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(
        torch.tensor([getattr(e, a) for e in sample], dtype=torch.long)
        for a in ("ids", "attention_mask", "type_ids")
    )
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    # a module left in train mode would be restored to it after export: export it in eval
    return Hidden(model).eval(), args, names, axes


def _check_export(onnx_path: Path, model_path: Path, model, tokenizer, torch) -> float:
    """Lowest cosine between torch and onnxruntime vectors over padded probe batches."""
    fast = OnnxEncoder(onnx_path, model_path, batch_size=len(PROBES))
    got = fast.encode(list(PROBES))
    encodings = tokenizer.encode_batch(fast._prepare(list(PROBES)))
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.long)
    types = torch.tensor([e.type_ids for e in encodings], dtype=torch.long)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
    want = mean_pool(hidden.numpy(), mask.numpy())
    return float((got * want).sum(axis=1).min())


def _remove_other_exports(keep: Path) -> None:
    for other in keep.parent.iterdir():
        if other != keep and other.is_dir() and other.name.startswith("onnx-"):
            shutil.rmtree(other, ignore_errors=True)
