"""Load corpus documents verbatim, with their pages and provenance.

Every `*.txt`, `*.md` and `*.pdf` in the corpus directory is a document. A PDF keeps its real page
numbers (pypdf). The references are each document's own bibliography entries with the reviewed
`references.json` over them (`documents.bibliography`). A file that cannot be read is
reported by name and skipped, so one bad file never stops the rest of the corpus from indexing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ketaqa.errors import CorpusError

log = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".txt", ".md", ".pdf")
REFERENCES_FILE = "references.json"


@dataclass(frozen=True)
class PageBreak:
    """The document text from `start` onwards is on printed/physical page `page`."""

    start: int
    page: int


@dataclass(frozen=True)
class Document:
    doc_id: str  # file name relative to the corpus directory
    path: Path
    text: str
    kind: str  # "txt" | "md" | "pdf" | "abstract"
    page_breaks: tuple[PageBreak, ...] = ()
    headings: tuple[int, ...] = ()  # PDF: offsets of lines set in bold or a larger size

    def page_at(self, offset: int) -> int | None:
        """The page a character offset falls on, for documents that have real pages."""
        page = None
        for br in self.page_breaks:
            if br.start <= offset:
                page = br.page
            else:
                break
        return page


@dataclass(frozen=True)
class Reference:
    """One bibliography record: the facts used to cite a passage."""

    key: str
    authors: str
    title: str
    journal: str
    year: int | None
    volume_pages: str = ""
    doi: str | None = None
    pmid: str | None = None
    cited_in: tuple[str, ...] = ()
    kind: str = "article"
    has_abstract: bool = False
    citation_note: str | None = None

    @property
    def first_author_surname(self) -> str:
        head = (self.authors or self.title).split(",")[0].strip()
        parts = head.split()
        if len(parts) > 1 and parts[-1].isupper() and len(parts[-1]) <= 3:
            parts = parts[:-1]  # drop initials: "Orhurhu V" -> "Orhurhu"
        return " ".join(parts)

    @property
    def short(self) -> str:
        return (
            f"{self.first_author_surname} {self.year}" if self.year else self.first_author_surname
        )

    def citation(self) -> str:
        """A readable citation: authors. title. journal year;volume_pages."""
        parts = []
        if self.authors:
            parts.append(self.authors.rstrip(".") + ".")
        if self.title:
            parts.append(self.title.rstrip(".") + ".")
        where = " ".join(p for p in (self.journal, str(self.year or "")) if p)
        if self.volume_pages and self.volume_pages not in where:
            where = f"{where};{self.volume_pages}" if self.year else f"{where} {self.volume_pages}"
        if where:
            parts.append(where.strip())
        return " ".join(parts)


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    references: tuple[Reference, ...]
    problems: tuple[str, ...] = field(default=())  # files skipped, with the reason
    # per document, the keys of the entries its own bibliography printed
    bibliographies: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    reviewed: frozenset[str] = frozenset()  # keys references.json has a record for

    def reference(self, key: str | None) -> Reference | None:
        if key is None:
            return None
        return next((r for r in self.references if r.key == key), None)

    def references_for(self, doc_id: str) -> tuple[Reference, ...]:
        """What a document may cite: its own bibliography's records and, if references.json
        reviews it, the reviewed records no bibliography printed; never another document's
        entries (its "A-1" or "Footnote 1" is not ours)."""
        own = {k for d, keys in self.bibliographies if d == doc_id for k in keys}
        claimed = {k for _, keys in self.bibliographies for k in keys}
        reviewed = bool(own & self.reviewed) or not own
        visible = tuple(
            r for r in self.references if r.key in own or (reviewed and r.key not in claimed)
        )
        return self.references if len(visible) == len(self.references) else visible


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Indexable files directly in the corpus directory, sorted for determinism."""
    return sorted(
        p for p in corpus_dir.iterdir() if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
    )


def corpus_fingerprint(corpus_dir: Path, extra_paths: Iterable[Path] = ()) -> str:
    """A hash of every file that feeds the index: names and bytes."""
    digest = hashlib.sha256()
    paths = [*corpus_files(corpus_dir), corpus_dir / REFERENCES_FILE, *sorted(extra_paths)]
    for path in paths:
        if path.exists():
            digest.update(str(path.relative_to(corpus_dir)).encode())
            digest.update(b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_document(path: Path, corpus_dir: Path) -> Document:
    doc_id = str(path.relative_to(corpus_dir))
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return load_pdf(path, doc_id)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{doc_id}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if "\x00" in text:
        raise CorpusError(f"{doc_id}: contains NUL bytes; is it a binary file?")
    return Document(doc_id, path, text, suffix.lstrip("."))


def load_pdf(path: Path, doc_id: str) -> Document:
    """The PDF's normalised text (`ketaqa.pipeline.documents.pdf_text`), with its printed pages."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from ketaqa.pipeline.documents.pdf_text import read_pdf_text

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise CorpusError(
                f"{doc_id}: the PDF is encrypted; save an unencrypted copy to index it"
            )
        read = read_pdf_text(reader)
    except CorpusError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise CorpusError(f"{doc_id}: cannot read the PDF ({exc}); is it corrupt?") from exc
    if not read.text.strip():
        raise CorpusError(f"{doc_id}: the PDF has no extractable text (scanned image?)")
    breaks = tuple(PageBreak(start, page) for start, page in read.page_breaks)
    return Document(doc_id, path, read.text, "pdf", breaks, tuple(read.headings))


def load_references(path: Path) -> tuple[Reference, ...]:
    if not path.exists():
        return ()
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path.name}: not valid JSON ({exc})") from exc
    known = set(Reference.__dataclass_fields__)
    refs = []
    for record in records:
        fields = {k: v for k, v in record.items() if k in known}
        fields["cited_in"] = tuple(fields.get("cited_in") or ())
        fields["authors"] = fields.get("authors") or ""
        fields["title"] = fields.get("title") or ""
        fields["journal"] = fields.get("journal") or ""
        refs.append(Reference(**fields))
    return tuple(refs)
