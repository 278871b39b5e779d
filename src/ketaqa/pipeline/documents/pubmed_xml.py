"""PubMed XML: the records the abstract cache stores, and the parser that reads them.

The cache under `corpus/abstracts/` holds one PubmedArticleSet per reference, exactly as NCBI
sent it (or as the user exported it), so reading the cache means parsing PubMed XML. A user's
file is untrusted, so it is parsed with defusedxml (no entity expansion, no external entities or
DTD fetches) into plain xml.etree elements.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml
import defusedxml.ElementTree as SafeET

from ketaqa.errors import KetaqaError

MAX_XML_DEPTH = 100  # real PubMed records nest about 12 deep, inline markup included
MAX_ABSTRACT_CHARS = 100_000  # real abstracts are a few thousand characters
MAX_RECORD_BYTES = 2_000_000  # one article with a long reference list is well under this


class PubmedXMLError(KetaqaError):
    """A PubMed XML file or an NCBI answer cannot be parsed or is not what was asked for."""


@dataclass(frozen=True)
class AbstractSection:
    label: str | None  # "RESULTS" for structured abstracts, None for a plain paragraph
    text: str


@dataclass(frozen=True)
class PubmedRecord:
    """One PubmedArticle (or PubmedBookArticle): identifiers, title, abstract, and its own XML."""

    pmid: str | None
    doi: str | None
    title: str
    sections: tuple[AbstractSection, ...]
    xml: bytes  # a PubmedArticleSet holding only this article: what the cache stores

    @property
    def has_abstract(self) -> bool:
        return any(s.text for s in self.sections)

    @property
    def too_large(self) -> str | None:
        """Why this record is refused (too big to index safely), or None when it is fine."""
        chars = sum(len(s.text) for s in self.sections)
        if chars > MAX_ABSTRACT_CHARS:
            return f"abstract of {chars:,} characters; the limit is {MAX_ABSTRACT_CHARS:,}"
        if len(self.xml) > MAX_RECORD_BYTES:
            return f"record of {len(self.xml):,} bytes; the limit is {MAX_RECORD_BYTES:,}"
        return None


def parse_article_set(data: bytes, source: str) -> list[PubmedRecord]:
    """Every article in a PubmedArticleSet (or a lone PubmedArticle), in document order.

    `source` names the file or request in error messages.
    """
    root = parse_bounded(data, source)
    if root.tag in ("PubmedArticle", "PubmedBookArticle"):
        articles = [root]
    elif root.tag == "PubmedArticleSet":
        articles = [el for el in root if el.tag in ("PubmedArticle", "PubmedBookArticle")]
    elif root.tag == "eFetchResult":
        error = " ".join(root.findtext("ERROR", default="").split()) or "no records"
        raise PubmedXMLError(f"{source}: NCBI returned an error instead of records: {error}")
    else:
        raise PubmedXMLError(
            f"{source}: not PubMed XML (root element <{root.tag}>, expected <PubmedArticleSet>)"
        )
    return [_record(article) for article in articles]


def parse_bounded(data: bytes, source: str, max_depth: int = MAX_XML_DEPTH) -> ET.Element:
    """The document's root element; PubmedXMLError when malformed, unsafe (entities, DTDs:
    defusedxml refuses them) or nested deeper than `max_depth` (deep nesting would exhaust
    the recursion of serialising it again, so the depth is measured without recursion)."""
    try:
        root = SafeET.fromstring(data)
    except ET.ParseError as exc:
        raise PubmedXMLError(f"{source}: malformed XML ({exc})") from exc
    except defusedxml.DefusedXmlException as exc:
        raise PubmedXMLError(f"{source}: refused unsafe XML ({exc})") from exc
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise PubmedXMLError(
                f"{source}: XML nested more than {max_depth} elements deep; not a PubMed record"
            )
        stack.extend((child, depth + 1) for child in element)
    return root


def _record(article: ET.Element) -> PubmedRecord:
    if article.tag == "PubmedBookArticle":
        doc = article.find("BookDocument")
        doc = doc if doc is not None else ET.Element("BookDocument")
        pmid = _text(doc.find("PMID"))
        title = _text(doc.find("ArticleTitle")) or _text(doc.find("Book/BookTitle"))
        abstract = doc.find("Abstract")
        ids = article.find("PubmedBookData/ArticleIdList")
        elocations = doc.findall("ELocationID")
    else:
        citation = article.find("MedlineCitation")
        citation = citation if citation is not None else ET.Element("MedlineCitation")
        pmid = _text(citation.find("PMID"))
        title = _text(citation.find("Article/ArticleTitle"))
        abstract = citation.find("Article/Abstract")
        # Only the article's own ids: ReferenceList entries carry the DOIs of works it cites.
        ids = article.find("PubmedData/ArticleIdList")
        elocations = citation.findall("Article/ELocationID")
    doi = None
    if ids is not None:
        for el in ids.findall("ArticleId"):
            if el.get("IdType") == "pubmed" and not pmid:
                pmid = _text(el)
            if el.get("IdType") == "doi" and doi is None:
                doi = normalise_doi(_text(el))
    if doi is None:
        doi = next(
            (normalise_doi(_text(el)) for el in elocations if el.get("EIdType") == "doi"), None
        )
    sections: list[AbstractSection] = []
    if abstract is not None:
        for el in abstract.findall("AbstractText"):
            text = _text(el)
            label = (el.get("Label") or "").strip() or None
            if text:
                sections.append(AbstractSection(label, text))
    return PubmedRecord(pmid or None, doi, title, tuple(sections), single_article_xml(article))


def _text(el: ET.Element | None) -> str:
    """All text inside an element (inline <i>, <sup>… included), whitespace collapsed."""
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def single_article_xml(article: ET.Element) -> bytes:
    """A PubmedArticleSet document holding just this article, for the per-reference cache."""
    tail, article.tail = article.tail, None
    try:
        body = ET.tostring(article, encoding="unicode")
    finally:
        article.tail = tail
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>\n'
        + body
        + "\n</PubmedArticleSet>\n"
    ).encode("utf-8")


def normalise_doi(doi: str | None) -> str | None:
    """DOIs compare case-insensitively and turn up with or without a resolver prefix."""
    if not doi:
        return None
    doi = doi.strip()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.I)
    return doi.lower() or None
