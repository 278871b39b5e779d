"""The export formats a clinician gets from PubMed or a reference manager, read into records.

* PubMed XML ("Save → XML", E-utilities efetch): `pipeline.pubmed_xml` (defusedxml).
* MEDLINE / NBIB ("Save → PubMed format", "Cite → NBIB"): `Bio.Medline` parses each record.
* RIS (EndNote, Zotero, Mendeley …): `rispy` parses each record.

The format is recognised from the content, never the extension. Both tagged formats are split
into records here and each record is checked line by line before its library parses it, because
both libraries are lenient (a stray line is silently glued to a field, a record without `TY` is
dropped): a malformed record becomes a `RecordError` naming it, and the others still import.

A MEDLINE or RIS record becomes the same `PubmedRecord` a PubMed XML export gives, stored in
the cache as a small PubmedArticleSet, so the index reads one format. The abstract text is kept
verbatim; a MEDLINE abstract's inline section labels ("RESULTS: …") become its sections.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

import rispy
from Bio import Medline

from ketaqa.pipeline.documents.pubmed_xml import (
    PubmedRecord,
    PubmedXMLError,
    parse_article_set,
    single_article_xml,
)

XML, MEDLINE, RIS = "PubMed XML", "MEDLINE/NBIB", "RIS"
_MEDLINE_TAG = re.compile(r"^[A-Z][A-Z0-9]{1,3} {0,2}- ")
_MEDLINE_CONTINUATION = re.compile(r"^ {6}\S")
_RIS_TAG = re.compile(r"^[A-Z][A-Z0-9]  -( |$)")
_RIS_END = re.compile(r"^ER  -\s*$")
# A structured abstract's label in MEDLINE text: capitals (and spaces, &, /, -) then ": ",
# at the start or after the end of a sentence.
_LABEL = re.compile(r"(?:^|(?<=[.!?]) )([A-Z][A-Z &/,-]{2,40}[A-Z]): ")


class FormatError(PubmedXMLError):
    """A file that is none of the formats ketaqa reads."""


@dataclass(frozen=True)
class RecordError:
    """One malformed record: which, and why (the others in its file still import)."""

    where: str  # "export.nbib: record 2 (PMID 90000012)"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def sniff(data: bytes, source: str) -> str:
    """Which format `data` is in, from its first non-blank characters."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].decode("utf-8", "replace")
    if head.startswith("<"):
        return XML
    if re.match(r"TY  -", head):
        return RIS
    if _MEDLINE_TAG.match(head):
        return MEDLINE
    raise FormatError(
        f"{source}: not a PubMed XML, MEDLINE/NBIB or RIS export "
        f"(it starts {head[:30]!r}); save from PubMed as 'PubMed format' or XML"
    )


def read_records(data: bytes, source: str) -> tuple[list[PubmedRecord], list[RecordError]]:
    """Every record in an export, and the malformed ones; raises only for an unusable file."""
    kind = sniff(data, source)
    if kind == XML:
        return parse_article_set(data, source), []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # RIS has no declared encoding; Latin-1 is its old default
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kind == MEDLINE:
        return _each(_medline_chunks(text), source, _medline_record)
    return _each(_ris_chunks(text), source, _ris_record)


def _each(
    chunks: list[str], source: str, parse: Callable[[str], PubmedRecord]
) -> tuple[list[PubmedRecord], list[RecordError]]:
    records: list[PubmedRecord] = []
    errors: list[RecordError] = []
    for number, chunk in enumerate(chunks, start=1):
        ident = _identify(chunk)
        where = f"{source}: record {number}" + (f" ({ident})" if ident else "")
        try:
            records.append(parse(chunk))
        except ValueError as exc:
            errors.append(RecordError(where, str(exc)))
    return records, errors


def _identify(chunk: str) -> str:
    pmid = re.search(r"^PMID- *(\d+)", chunk, re.M)
    if pmid:
        return f"PMID {pmid[1]}"
    title = re.search(r"^(?:TI|T1)  - *(.{1,50})", chunk, re.M)
    return repr(title[1].strip()) if title else ""


# ---------------------------------------------------------------------------------------------
# MEDLINE / NBIB


def _medline_chunks(text: str) -> list[str]:
    return [c for c in re.split(r"\n\s*\n", text) if c.strip()]


def _medline_record(chunk: str) -> PubmedRecord:
    for n, line in enumerate(chunk.split("\n"), start=1):
        if line.strip() and not (_MEDLINE_TAG.match(line) or _MEDLINE_CONTINUATION.match(line)):
            raise ValueError(
                f"line {n} is neither a MEDLINE tag ('TAG - ') nor a continuation "
                f"(six spaces): {line[:40]!r}"
            )
    fields = Medline.read(io.StringIO(chunk))
    pmid = str(fields.get("PMID", "")).strip()
    title = _one(fields.get("TI")) or _one(fields.get("BTI"))
    if not (pmid or title):
        raise ValueError("no PMID and no title (TI)")
    if pmid and not pmid.isdigit():
        raise ValueError(f"PMID is not a number: {pmid!r}")
    doi = _medline_doi(fields)
    sections = split_labelled(_one(fields.get("AB")))
    return _as_record(pmid or None, doi, title, sections)


def _medline_doi(fields: dict) -> str | None:
    ids = [fields.get("LID", "")] + list(fields.get("AID", []))
    for value in ids:
        for one in value if isinstance(value, list) else [value]:
            if one.endswith("[doi]"):
                return one.removesuffix("[doi]").strip()
    return None


def split_labelled(abstract: str) -> list[tuple[str | None, str]]:
    """'BACKGROUND: … RESULTS: …' -> [("BACKGROUND", "…"), ("RESULTS", "…")]; text verbatim."""
    if not abstract:
        return []
    marks = list(_LABEL.finditer(abstract))
    if not marks or marks[0].start() != 0:
        return [(None, abstract)]
    out = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(abstract)
        out.append((mark[1], abstract[mark.end() : end].strip()))
    return out


# ---------------------------------------------------------------------------------------------
# RIS


def _ris_chunks(text: str) -> list[str]:
    chunks, current = [], []
    for line in text.split("\n"):
        if not current and not line.strip():
            continue
        current.append(line)
        if _RIS_END.match(line):
            chunks.append("\n".join(current))
            current = []
    if any(line.strip() for line in current):
        chunks.append("\n".join(current))  # no ER: reported by _ris_record
    return chunks


def _ris_record(chunk: str) -> PubmedRecord:
    lines = [line for line in chunk.split("\n") if line.strip()]
    if not lines[0].startswith("TY  -"):
        raise ValueError(f"does not start with 'TY  - ' but {lines[0][:40]!r}")
    if not _RIS_END.match(lines[-1]):
        raise ValueError("has no end tag 'ER  - '")
    for n, line in enumerate(lines, start=1):
        if not _RIS_TAG.match(line):
            raise ValueError(f"line {n} is not a RIS tag line ('XY  - '): {line[:40]!r}")
    entries = rispy.loads(chunk + "\n")
    if len(entries) != 1:
        raise ValueError("could not be read as one RIS record")
    entry = entries[0]
    title = _one(entry.get("title") or entry.get("primary_title"))
    accession = _one(entry.get("accession_number")).strip()
    pmid = accession if accession.isdigit() else None
    if not (pmid or title):
        raise ValueError("no title (TI/T1) and no PubMed accession number (AN)")
    abstract = _one(entry.get("abstract") or entry.get("notes_abstract"))
    sections = split_labelled(abstract)
    return _as_record(pmid, _one(entry.get("doi")) or None, title, sections)


# ---------------------------------------------------------------------------------------------


def _one(value: object) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return " ".join(str(value or "").split())


def _as_record(
    pmid: str | None, doi: str | None, title: str, sections: list[tuple[str | None, str]]
) -> PubmedRecord:
    """The record as the PubmedArticle NCBI would send, parsed back like any cached file."""
    article = ET.Element("PubmedArticle")
    citation = ET.SubElement(article, "MedlineCitation", Status="Imported", Owner="ketaqa")
    if pmid:
        ET.SubElement(citation, "PMID", Version="1").text = pmid
    body = ET.SubElement(citation, "Article")
    ET.SubElement(body, "ArticleTitle").text = title
    if sections:
        abstract = ET.SubElement(body, "Abstract")
        for label, text in sections:
            el = ET.SubElement(abstract, "AbstractText")
            if label:
                el.set("Label", label)
            el.text = text
    if doi:
        ET.SubElement(body, "ELocationID", EIdType="doi", ValidYN="Y").text = doi
    ids = ET.SubElement(ET.SubElement(article, "PubmedData"), "ArticleIdList")
    if pmid:
        ET.SubElement(ids, "ArticleId", IdType="pubmed").text = pmid
    if doi:
        ET.SubElement(ids, "ArticleId", IdType="doi").text = doi
    (record,) = parse_article_set(single_article_xml(article), "converted record")
    return record
