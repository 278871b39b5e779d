"""The saved index: passages, BM25 tokens, FAISS vectors and a manifest.

Layout under the index directory:

    CURRENT                 name of the live build (replaced atomically)
    builds/<name>/          manifest.json, passages.json, tokens.json, tokenizer.json,
                            dense.faiss, units.json, units.npy
    .lock                   serialises builds between processes

A build is written to a fresh folder and only then made live by replacing CURRENT, so a
killed build leaves the previous index usable. Loading checks every file against the hashes in
the manifest, and the manifest against the corpus, model, tokenizer and settings, so a stale
or damaged index is detected and rebuilt rather than silently used.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from ketaqa.config import DenseIndexSettings, Settings
from ketaqa.errors import IndexStateError, KetaqaError
from ketaqa.files import CHECKSUMS_FILE, fsync_dir, sha256_file, write_atomic
from ketaqa.pipeline.documents.abstract_corpus import (
    abstract_files,
    abstract_passages,
    with_cached_ids,
)
from ketaqa.pipeline.documents.corpus import Corpus, Reference, corpus_fingerprint
from ketaqa.pipeline.documents.library import load_corpus
from ketaqa.pipeline.documents.outline import PageSpan, SectionPath
from ketaqa.pipeline.documents.passages import CHUNKER_VERSION, Footnote, Passage, build_passages
from ketaqa.pipeline.documents.structure import document_citation, parse_document
from ketaqa.pipeline.documents.structure_report import report, structure_checks, structure_counts
from ketaqa.pipeline.indexing.embedding import MODEL_ID, Encoder, model_fingerprint
from ketaqa.pipeline.indexing.encode import encode_passages
from ketaqa.pipeline.indexing.tokenizer import ClinicalTokenizer
from ketaqa.progress import Progress, quiet

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
FILES = ("passages.json", "tokens.json", "tokenizer.json", "dense.faiss", "units.json", "units.npy")


@dataclass(frozen=True)
class Fingerprint:
    """Everything that, when changed, makes a saved index stale."""

    format_version: int
    corpus_hash: str
    model_id: str
    model_hash: str
    chunker_version: str
    tokenizer_version: str  # the fixed rules; learned abbreviations follow the corpus hash
    bm25_variant: str


@dataclass
class Index:
    passages: list[Passage]
    references: dict[str, Reference]
    tokenizer: ClinicalTokenizer
    tokens: list[list[str]]
    dense: faiss.Index
    unit_spans: list[list[tuple[int, int]]]  # per passage: highlightable spans (relative)
    unit_vectors: np.ndarray  # all units, in passage order
    unit_offsets: list[int]  # first unit row of each passage
    manifest: dict
    path: Path

    def document_citation(self, doc_id: str) -> str:
        return self.manifest.get("documents", {}).get(doc_id, doc_id)

    def units_of(self, i: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        first = self.unit_offsets[i]
        spans = self.unit_spans[i]
        return spans, self.unit_vectors[first : first + len(spans)]


# ---------------------------------------------------------------------------------------------


def dense_index(vectors: np.ndarray, settings: DenseIndexSettings | None = None) -> faiss.Index:
    """Exact inner-product search, or HNSW from `settings.approximate_from` vectors up."""
    settings = settings or DenseIndexSettings()
    if len(vectors) >= settings.approximate_from:
        index = faiss.IndexHNSWFlat(vectors.shape[1], settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.ef_construction
        index.hnsw.efSearch = settings.ef_search
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def expected_fingerprint(settings: Settings, model_hash: str | None = None) -> Fingerprint:
    corpus_dir = settings.corpus_dir
    return Fingerprint(
        format_version=FORMAT_VERSION,
        corpus_hash=corpus_fingerprint(corpus_dir, abstract_files(corpus_dir)),
        model_id=MODEL_ID,
        model_hash=model_hash or model_fingerprint(memo=settings.index_dir / CHECKSUMS_FILE),
        chunker_version=CHUNKER_VERSION,
        tokenizer_version=ClinicalTokenizer({}).version,
        bm25_variant=settings.retrieval.bm25_variant,
    )


def collect_passages(corpus: Corpus, corpus_dir: Path) -> list[Passage]:
    return build_passages(corpus) + abstract_passages(corpus_dir, corpus.references)


def structure_report(corpus: Corpus, index_dir: Path) -> list[str]:
    """Each document's structure line and the warnings `ketaqa index` prints and the index
    keeps (documents.structure_report); updates the last good counts in `index_dir`."""
    counts, checks = {}, {}
    for doc in corpus.documents:
        if doc.kind == "abstract":
            continue
        outline = parse_document(doc, corpus.references_for(doc.doc_id))
        counts[doc.doc_id] = structure_counts(outline)
        checks[doc.doc_id] = structure_checks(doc, outline)
    return report(index_dir, counts, checks)


def build_index(
    settings: Settings,
    encoder: Encoder,
    progress: Progress = quiet,
) -> Index:
    """Build a new index from the corpus and make it live atomically."""
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir):
        started = time.perf_counter()
        fingerprint = expected_fingerprint(settings)
        corpus = load_corpus(settings.corpus_dir)
        for problem in corpus.problems:
            progress(f"skipped: {problem}")
        structure = structure_report(corpus, index_dir)
        for line in structure:
            progress(line)
        passages = collect_passages(corpus, settings.corpus_dir)
        if not passages:
            raise KetaqaError(f"no passages found in {settings.corpus_dir}; nothing to index")
        cited = with_cached_ids(corpus.references, settings.corpus_dir)
        references = {r.key: r for r in cited}
        progress(f"{len(passages)} passages from {len(corpus.documents)} documents")

        built = encode_passages(passages, references, encoder, progress)
        for doc_id, why in built.skipped.items():
            line = f"{settings.corpus_dir / doc_id}: {why}; not indexed, the rest is"
            log.warning("skipping cached abstract: %s", line)
            progress(f"skipped: {line}")
        passages, tokenizer, tokens = built.passages, built.tokenizer, built.tokens
        dense = dense_index(built.vectors, settings.dense_index)
        unit_spans, unit_vectors = built.unit_spans, built.unit_vectors

        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        build_dir = index_dir / "builds" / name
        build_dir.mkdir(parents=True)
        _write_json(build_dir / "passages.json", [passage_to_dict(p) for p in passages])
        _write_json(build_dir / "tokens.json", tokens)
        _write_json(build_dir / "tokenizer.json", {"abbreviations": tokenizer.abbreviations})
        faiss.write_index(dense, str(build_dir / "dense.faiss"))
        _write_json(build_dir / "units.json", unit_spans)
        np.save(build_dir / "units.npy", unit_vectors)
        manifest = {
            "fingerprint": asdict(fingerprint),
            "files": {f: sha256_file(build_dir / f) for f in FILES},
            "references": [asdict(r) for r in cited],
            "passages": len(passages),
            "documents": {d.doc_id: document_citation(d) for d in corpus.documents},
            "problems": [
                *corpus.problems,
                *(f"{d}: {why}; not indexed" for d, why in built.skipped.items()),
            ],
            "structure": structure,
            # what a maintainer must look at: shown by /api/health and "About this corpus"
            "warnings": [line for line in structure if line.startswith("warning")],
            "settings": settings.retrieval.to_dict(),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        _write_json(build_dir / "manifest.json", manifest)
        fsync_dir(build_dir)
        write_atomic(index_dir / "CURRENT", name)
        _remove_other_builds(index_dir, keep=name)
        progress(f"index built in {manifest['build_seconds']:.1f} s -> {build_dir}")
        return load_index(settings, fingerprint)


def index_status(settings: Settings, fingerprint: Fingerprint | None = None) -> str:
    """ "ok", "missing", "stale: …" or "damaged: …" without loading vectors."""
    try:
        build_dir = _current_build(settings.index_dir)
        manifest = _read_manifest(build_dir)
        _verify_files(build_dir, manifest)
    except IndexStateError as exc:
        return str(exc)
    want = asdict(fingerprint or expected_fingerprint(settings))
    have = manifest.get("fingerprint", {})
    changed = sorted(k for k in want if have.get(k) != want[k])
    if changed:
        return "stale: " + ", ".join(f"{k} changed" for k in changed)
    return "ok"


def load_index(settings: Settings, fingerprint: Fingerprint | None = None) -> Index:
    """Load and verify the live index; IndexStateError when it is missing, stale or damaged."""
    status = index_status(settings, fingerprint)
    if status != "ok":
        raise IndexStateError(status)
    build_dir = _current_build(settings.index_dir)
    manifest = _read_manifest(build_dir)
    try:
        passages = [passage_from_dict(d) for d in _read_json(build_dir / "passages.json")]
        tokens = _read_json(build_dir / "tokens.json")
        abbreviations = _read_json(build_dir / "tokenizer.json")["abbreviations"]
        dense = faiss.read_index(str(build_dir / "dense.faiss"))
        unit_spans = [[tuple(s) for s in spans] for spans in _read_json(build_dir / "units.json")]
        unit_vectors = np.load(build_dir / "units.npy", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexStateError(f"damaged: cannot read {build_dir.name} ({exc})") from exc
    if not (len(passages) == len(tokens) == dense.ntotal == len(unit_spans)):
        raise IndexStateError("damaged: passage, token and vector counts disagree")
    offsets, total = [], 0
    for spans in unit_spans:
        offsets.append(total)
        total += len(spans)
    if total != len(unit_vectors):
        raise IndexStateError("damaged: sentence vectors do not match their spans")
    references = {}
    for record in manifest.get("references", []):
        record["cited_in"] = tuple(record.get("cited_in") or ())
        references[record["key"]] = Reference(**record)
    return Index(
        passages=passages,
        references=references,
        tokenizer=ClinicalTokenizer(abbreviations),
        tokens=tokens,
        dense=dense,
        unit_spans=unit_spans,
        unit_vectors=unit_vectors,
        unit_offsets=offsets,
        manifest=manifest,
        path=build_dir,
    )


def open_index(
    settings: Settings,
    encoder: Encoder,
    rebuild: bool = False,
    progress: Progress = quiet,
) -> Index:
    """The live index, rebuilt first when asked, missing, stale or damaged."""
    if not rebuild:
        fingerprint = expected_fingerprint(settings)
        try:
            return load_index(settings, fingerprint)
        except IndexStateError as exc:
            progress(f"index {exc}; rebuilding")
    return build_index(settings, encoder, progress)


# ---------------------------------------------------------------------------------------------
# (de)serialising passages


def passage_to_dict(p: Passage) -> dict:
    d = asdict(p)
    d["section"] = list(p.section.parts)
    d["pages"] = [p.pages.first, p.pages.last]
    return d


def passage_from_dict(d: dict) -> Passage:
    return Passage(
        id=d["id"],
        doc_id=d["doc_id"],
        source=d["source"],
        text=d["text"],
        start=d["start"],
        end=d["end"],
        section=SectionPath(tuple(d["section"])),
        pages=PageSpan(*d["pages"]),
        kind=d["kind"],
        reference_keys=tuple(d["reference_keys"]),
        footnotes=tuple(Footnote(**f) for f in d["footnotes"]),
        prev_id=d["prev_id"],
        next_id=d["next_id"],
        context=d.get("context", ""),
    )


# ---------------------------------------------------------------------------------------------
# files


def _current_build(index_dir: Path) -> Path:
    current = index_dir / "CURRENT"
    if not current.exists():
        return _raise("missing: no index has been built yet")
    name = current.read_text(encoding="utf-8", errors="replace").strip()
    build_dir = index_dir / "builds" / name
    if not name or "/" in name or not build_dir.is_dir():
        return _raise(f"damaged: CURRENT names a build that does not exist ({name!r})")
    return build_dir


def _raise(message: str) -> Path:
    raise IndexStateError(message)


def _read_manifest(build_dir: Path) -> dict:
    try:
        manifest = _read_json(build_dir / "manifest.json")
    except (OSError, ValueError) as exc:
        raise IndexStateError(f"damaged: manifest unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or "files" not in manifest:
        raise IndexStateError("damaged: manifest is incomplete")
    fmt = manifest.get("fingerprint", {}).get("format_version")
    if fmt != FORMAT_VERSION:
        raise IndexStateError(f"stale: written by index format {fmt}, this is {FORMAT_VERSION}")
    return manifest


def _verify_files(build_dir: Path, manifest: dict) -> None:
    for name in FILES:
        path = build_dir / name
        if not path.exists():
            raise IndexStateError(f"damaged: {name} is missing")
        if sha256_file(path) != manifest["files"].get(name):
            raise IndexStateError(f"damaged: {name} does not match its checksum")


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: object) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, sort_keys=False)
        fh.flush()
        os.fsync(fh.fileno())


def _remove_other_builds(index_dir: Path, keep: str) -> None:
    for build in (index_dir / "builds").iterdir():
        if build.name != keep:
            shutil.rmtree(build, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    with (index_dir / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
