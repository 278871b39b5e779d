"""The build section: `build_index` on the corpus (a cut of it with --quick) and the ONNX export,
beside building a plain `BM25Okapi` over the same passages."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from rank_bm25 import BM25Okapi

from ketaqa.config import Settings
from ketaqa.pipeline.indexing.embedding import TextEncoder
from ketaqa.pipeline.indexing.fast_encoder import META_FILE, ONNX_FILE, artefact_dir, export_onnx
from ketaqa.pipeline.indexing.index import build_index
from ketaqa.tools.bench.figures import Plan, dir_bytes, figure, timed


def bench_build(
    settings: Settings,
    plan: Plan,
    encoder: TextEncoder,
    model_load: float,
    export_seconds: float | None,
) -> dict:
    """Index a (cut) corpus in a temporary folder; `export_seconds` is the live export's time,
    or None when this run did not export (then it is measured or read from the record)."""
    with tempfile.TemporaryDirectory(prefix="ketaqa-bench-") as tmp:
        root = Path(tmp)
        corpus_dir = settings.corpus_dir
        if plan.corpus_chars:
            corpus_dir = _corpus_cut(settings.corpus_dir, root / "corpus", plan.corpus_chars)
        build_settings = replace(settings, corpus_dir=corpus_dir, index_dir=root / "index")
        index, seconds = timed(lambda: build_index(build_settings, encoder))
        size = dir_bytes(index.path)
        texts = [p.text for p in index.passages]
        units = len(index.unit_vectors)
        _, baseline_seconds = timed(lambda: BM25Okapi([t.split() for t in texts]))
        baseline_size = len(json.dumps([t.split() for t in texts]).encode()) + len(
            json.dumps(texts).encode()
        )
        export_seconds, export_note = _onnx_export(
            settings.index_dir, build_settings.index_dir, plan, export_seconds
        )
        onnx_size = (artefact_dir(settings.index_dir) / ONNX_FILE).stat().st_size
    cut = f"first {plan.corpus_chars} characters of each document" if plan.corpus_chars else ""
    return {
        "passages": len(texts),
        "sentences": units,
        "corpus": cut or "the whole corpus",
        "index_build": figure(
            seconds, baseline_seconds, "s", "build_index with the model loaded (torch)"
        ),
        "model_load": figure(model_load, baseline_seconds, "s", "sentence-transformers load"),
        "onnx_export": figure(export_seconds, baseline_seconds, "s", export_note),
        "index_size": figure(
            size, baseline_size, "bytes", "build folder; baseline: texts + split tokens as JSON"
        ),
        "onnx_size": figure(
            onnx_size, baseline_size, "bytes", "encoders/onnx-*/model.onnx beside the builds"
        ),
    }


def _onnx_export(
    live_dir: Path, temporary_dir: Path, plan: Plan, export_seconds: float | None
) -> tuple[float, str]:
    """The export's seconds and where they come from: this run's live export, a full run's
    export into the temporary index, or the live artefact's own record (quick runs)."""
    if export_seconds is not None:
        return export_seconds, "exported for the live index in this run"
    if plan.name == "full":
        _, seconds = timed(lambda: export_onnx(temporary_dir))
        return seconds, "exported into the temporary index"
    meta = json.loads((artefact_dir(live_dir) / META_FILE).read_text())
    return float(meta["export_seconds"]), "recorded when the live artefact was exported"


def _corpus_cut(source: Path, target: Path, chars: int) -> Path:
    """A small corpus: the first `chars` characters (to a paragraph end) of each text file."""
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.suffix in (".txt", ".md"):
            text = path.read_text(encoding="utf-8")
            cut = text[:chars]
            if len(text) > chars and "\n\n" in cut:
                cut = cut[: cut.rfind("\n\n")]
            (target / path.name).write_text(cut.rstrip() + "\n", encoding="utf-8")
        elif path.name == "references.json":
            shutil.copy(path, target / path.name)
    return target
