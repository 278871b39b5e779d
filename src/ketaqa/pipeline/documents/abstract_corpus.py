"""Cited abstracts as part of the corpus: the cache under `corpus/abstracts/`, read as passages.

Abstracts are publishers' text: the user fetches (`ketaqa abstracts fetch`) or imports
(`ketaqa abstracts import`) them into a local cache, one `<reference key>.xml` per reference
(git-ignored), never committed. With no cache the statement alone is indexed. This module only
reads the cache; filling it is `ketaqa.abstracts`.

Each cached abstract is rendered as plain text — "LABEL: text" paragraphs joined by blank lines
for structured abstracts — and every passage is a verbatim span of that rendering.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.documents.corpus import REFERENCES_FILE, Document, Reference
from ketaqa.pipeline.documents.outline import PageSpan, SectionPath
from ketaqa.pipeline.documents.passages import Passage, link_neighbours, sentence_groups
from ketaqa.pipeline.documents.pubmed_xml import (
    MAX_RECORD_BYTES,
    PubmedRecord,
    PubmedXMLError,
    parse_article_set,
)

log = logging.getLogger(__name__)

ABSTRACTS_DIR = "abstracts"
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ---------------------------------------------------------------------------------------------
# The cache


def abstract_files(corpus_dir: Path) -> list[Path]:
    """Cached abstract files that feed the index (their bytes are part of its fingerprint)."""
    folder = corpus_dir / ABSTRACTS_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".xml")


def cache_path(corpus_dir: Path, key: str) -> Path:
    if not _KEY_RE.match(key):
        raise InputError(f"reference key {key!r} cannot be used as a file name")
    return corpus_dir / ABSTRACTS_DIR / f"{key}.xml"


def read_cached(path: Path) -> PubmedRecord:
    """The one article in a cached file; PubmedXMLError when it is corrupt or too large to
    index (such a file is skipped and named, so one bad file never blocks the index)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_RECORD_BYTES + 1)
    except OSError as exc:
        raise PubmedXMLError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(data) > MAX_RECORD_BYTES:
        raise PubmedXMLError(
            f"{path}: larger than {MAX_RECORD_BYTES:,} bytes, not indexed; delete it"
        )
    records = parse_article_set(data, str(path))
    if len(records) != 1:
        raise PubmedXMLError(f"{path}: expected one PubmedArticle, found {len(records)}")
    if why := records[0].too_large:
        raise PubmedXMLError(f"{path}: {why}, not indexed; delete it")
    return records[0]


def is_readable(path: Path) -> bool:
    """Whether a cached file holds one parseable article (a fetch replaces it when not)."""
    try:
        read_cached(path)
    except KetaqaError:
        return False
    return True


def readable_records(corpus_dir: Path) -> Iterator[tuple[Path, PubmedRecord]]:
    """Each cached abstract that parses, with its file; a corrupt one is logged and skipped."""
    for path in abstract_files(corpus_dir):
        try:
            record = read_cached(path)
        except KetaqaError as exc:
            log.warning("skipping cached abstract: %s", exc)
            continue
        yield path, record


def cached_ids(corpus_dir: Path) -> dict[str, dict[str, str | None]]:
    """PMID and DOI of every readable cached abstract, by reference key.

    A fetch may resolve a PMID that references.json lacks; front ends merge these in.
    """
    return {
        path.stem: {"pmid": record.pmid, "doi": record.doi}
        for path, record in readable_records(corpus_dir)
    }


def with_cached_ids(references: Iterable[Reference], corpus_dir: Path) -> tuple[Reference, ...]:
    """References with a missing PMID/DOI filled in from their cached abstract."""
    ids = cached_ids(corpus_dir)
    out = []
    for ref in references:
        found = ids.get(ref.key, {})
        pmid, doi = ref.pmid or found.get("pmid"), ref.doi or found.get("doi")
        out.append(replace(ref, pmid=pmid, doi=doi))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Passages


@dataclass(frozen=True)
class RenderedAbstract:
    """The plain-text rendering of one cached abstract and where each section's text lies."""

    key: str
    doc_id: str
    path: Path
    text: str
    sections: tuple[tuple[str | None, int, int], ...]  # (label, start, end) of the text only
    record: PubmedRecord


def render(record: PubmedRecord) -> tuple[str, tuple[tuple[str | None, int, int], ...]]:
    """Plain text: `LABEL: text` paragraphs (just the text when unlabelled), blank-line joined."""
    out = ""
    spans: list[tuple[str | None, int, int]] = []
    for section in record.sections:
        if out:
            out += "\n\n"
        if section.label:
            out += f"{section.label}: "
        start = len(out)
        out += section.text
        spans.append((section.label, start, len(out)))
    return out, tuple(spans)


def load_rendered(corpus_dir: Path) -> list[RenderedAbstract]:
    """Every readable cached abstract, sorted by key; corrupt files are logged and skipped."""
    out = []
    for path, record in readable_records(corpus_dir):
        text, spans = render(record)
        if not text:
            log.warning("skipping cached abstract: %s has no abstract text", path)
            continue
        doc_id = f"{ABSTRACTS_DIR}/{path.name}"
        out.append(RenderedAbstract(path.stem, doc_id, path, text, spans, record))
    return sorted(out, key=lambda r: r.key)


def abstract_documents(corpus_dir: Path) -> list[Document]:
    """The renderings as Documents, so every abstract passage can be checked against its text."""
    return [Document(r.doc_id, r.path, r.text, "abstract") for r in load_rendered(corpus_dir)]


def abstract_passages(corpus_dir: Path, references: tuple[Reference, ...]) -> list[Passage]:
    """Passages from every cached abstract; none when nothing has been fetched or imported."""
    by_key = {r.key: r for r in references}
    passages: list[Passage] = []
    for rendered in load_rendered(corpus_dir):
        ref = by_key.get(rendered.key)
        if ref is None:
            log.warning(
                "skipping cached abstract: %s: no reference %r in %s",
                rendered.path,
                rendered.key,
                REFERENCES_FILE,
            )
            continue
        passages.extend(passages_of(rendered, ref))
    return passages


def passages_of(rendered: RenderedAbstract, ref: Reference) -> list[Passage]:
    """Sentence groups of at most MAX_WORDS within each section, linked to their neighbours."""
    stem = rendered.doc_id.removesuffix(".xml")
    raw = []
    for label, start, end in rendered.sections:
        path = ("Abstract", label) if label else ("Abstract",)
        section = SectionPath((ref.short, *path))
        for s, e in sentence_groups(rendered.text, [(start, end)]):
            raw.append(
                Passage(
                    id=f"{stem}:{s}-{e}",
                    doc_id=rendered.doc_id,
                    source="abstract",
                    text=rendered.text[s:e],
                    start=s,
                    end=e,
                    section=section,
                    pages=PageSpan(None, None),
                    kind="abstract",
                    reference_keys=(ref.key,),
                )
            )
    return link_neighbours(raw)
