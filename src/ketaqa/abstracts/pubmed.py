"""PubMed: a small NCBI E-utilities client and a parser for PubMed XML records.

Only the standard library (urllib, xml.etree): abstracts are an optional extra, so they must not
pull in dependencies. The client keeps to NCBI's usage rules — at most 3 requests a second
without an API key and 10 with one, `tool` and `email` on every request — and retries the
failures NCBI asks clients to retry (429, 5xx, timeouts), honouring `Retry-After`.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ketaqa.errors import KetaqaError

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
TOOL = "ketaqa"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "ketaqa (+https://www.ncbi.nlm.nih.gov/books/NBK25497/)"


class EutilsUnreachable(KetaqaError):
    """NCBI could not be reached at all (no network, DNS, refused, repeated timeouts)."""


class EutilsHTTPError(KetaqaError):
    """NCBI answered with an HTTP error that retrying did not cure."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PubmedXMLError(KetaqaError):
    """A PubMed XML file or an NCBI answer cannot be parsed or is not what was asked for."""


# ---------------------------------------------------------------------------------------------
# Records


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


def parse_article_set(data: bytes, source: str) -> list[PubmedRecord]:
    """Every article in a PubmedArticleSet (or a lone PubmedArticle), in document order.

    `source` names the file or request in error messages.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise PubmedXMLError(f"{source}: malformed XML ({exc})") from exc
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


def normalise_title(title: str) -> str:
    """Titles compared loosely: case, accents, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", folded.lower()))


# ---------------------------------------------------------------------------------------------
# The E-utilities client


class RateLimiter:
    """At most `per_second` request starts in any window of `window` seconds (NCBI's rule).

    The window is a little over a second so that jitter on the way to NCBI does not make two
    requests look closer together there than they were here.
    """

    def __init__(
        self,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window: float = 1.1,
    ):
        self.per_second = per_second
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.starts: deque[float] = deque(maxlen=per_second)

    def wait(self) -> None:
        now = self.clock()
        if len(self.starts) == self.per_second:
            ready = self.starts[0] + self.window
            if now < ready:
                self.sleep(ready - now)
                now = self.clock()
        self.starts.append(now)


@dataclass(frozen=True)
class EutilsConfig:
    base_url: str = EUTILS_URL
    email: str | None = None
    api_key: str | None = None
    timeout: float = 30.0  # seconds per request
    max_retries: int = 4  # retries after the first attempt, for 429/5xx/timeouts
    backoff: float = 1.0  # first retry delay; doubles each time
    max_wait: float = 60.0  # cap on any one delay, Retry-After included

    @property
    def requests_per_second(self) -> int:
        return 10 if self.api_key else 3


class EutilsClient:
    """esearch and efetch against E-utilities, rate-limited and retried."""

    def __init__(
        self,
        config: EutilsConfig,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.sleep = sleep
        self.limiter = RateLimiter(config.requests_per_second, clock, sleep)

    def esearch(self, term: str) -> list[str]:
        """PMIDs matching a PubMed query (at most 20; callers only accept a single hit)."""
        data = self.get("esearch.fcgi", {"db": "pubmed", "term": term, "retmode": "json"})
        try:
            result = json.loads(data.decode("utf-8"))["esearchresult"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PubmedXMLError(f"esearch for {term!r}: unreadable answer from NCBI") from exc
        if "ERROR" in result:
            raise PubmedXMLError(f"esearch for {term!r}: NCBI said {result['ERROR']}")
        return [str(i) for i in result.get("idlist", [])]

    def efetch(self, pmids: Sequence[str]) -> bytes:
        """PubMed XML (a PubmedArticleSet) for these PMIDs."""
        params = {"db": "pubmed", "id": ",".join(pmids), "rettype": "abstract", "retmode": "xml"}
        return self.get("efetch.fcgi", params)

    def get(self, endpoint: str, params: dict[str, str]) -> bytes:
        cfg = self.config
        query = {**params, "tool": TOOL}
        if cfg.email:
            query["email"] = cfg.email
        if cfg.api_key:
            query["api_key"] = cfg.api_key
        url = cfg.base_url.rstrip("/") + "/" + endpoint + "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        where = cfg.base_url  # never the full URL: it may carry the API key
        for attempt in range(cfg.max_retries + 1):
            last = attempt == cfg.max_retries
            delay = min(cfg.backoff * 2**attempt, cfg.max_wait)
            self.limiter.wait()
            try:
                with urllib.request.urlopen(request, timeout=cfg.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as exc:
                status = exc.code
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                exc.close()
                if status not in RETRY_STATUS or last:
                    raise EutilsHTTPError(
                        status, f"NCBI E-utilities {endpoint} answered HTTP {status} {exc.reason}"
                    ) from None
                if retry_after is not None:
                    delay = min(retry_after, cfg.max_wait)
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, TimeoutError):
                    raise EutilsUnreachable(
                        f"cannot reach NCBI E-utilities at {where}: {exc.reason}"
                    ) from None
                if last:
                    raise self._timed_out(where, attempt) from None
            except TimeoutError:
                if last:
                    raise self._timed_out(where, attempt) from None
            except (http.client.HTTPException, ConnectionError) as exc:
                if last:
                    raise EutilsUnreachable(
                        f"cannot reach NCBI E-utilities at {where}: {exc!r} "
                        f"({attempt + 1} attempts)"
                    ) from None
            self.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _timed_out(self, where: str, attempt: int) -> EutilsUnreachable:
        return EutilsUnreachable(
            f"cannot reach NCBI E-utilities at {where}: timed out after "
            f"{self.config.timeout:g} s ({attempt + 1} attempts); try --timeout or later"
        )


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds; HTTP-date values are ignored in favour of our own backoff."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)
