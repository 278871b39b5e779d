"""NCBI E-utilities through Biopython's `Bio.Entrez`: probe, ECitMatch, ESearch, EFetch.

`Bio.Entrez` keeps NCBI's usage rules for us: at most 3 requests a second, 10 with an API key
(it looks for `api_key=` in each request), `tool`/`email`/`api_key` on every request, and
retries of 429, 5xx and network errors. Its settings are module-level and its base URL is
written into each function, so every call here runs inside `_entrez_session`, which, under a
lock, sets `max_tries`/`sleep_between_tries` and swaps the module's `urlopen` for one that
sends the request to our configured base URL with our timeout, then restores all of it. Tests
point the base URL at a loopback server; nothing leaks between calls.

`Bio.Entrez` retries a 429 or 5xx at once; our `urlopen` first sleeps for `Retry-After` (or the
backoff), so a retried request is still a polite one, and it keeps a sliding window so that
no second, as NCBI counts it, sees more than 3 (or 10) requests.

Our `urlopen` also reads each answer itself, in chunks: at most `max_response_bytes`
(`ResponseTooLarge`, not retried) and within `timeout` seconds in all, since the socket timeout
only bounds each single wait and a server trickling a byte at a time would otherwise hold us
forever. With `deadline` set, no attempt starts, and no retry waits, past it (`DeadlineReached`).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from Bio import Entrez

from ketaqa.config import EUTILS_URL
from ketaqa.errors import KetaqaError
from ketaqa.pipeline.documents.pubmed_xml import PubmedXMLError

BIOPYTHON_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"  # written into Bio.Entrez
TOOL = "ketaqa"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "ketaqa (+https://www.ncbi.nlm.nih.gov/books/NBK25497/)"
MAX_RESPONSE_BYTES = 64_000_000  # 50 records of at most 1 MB each, with room to spare
READ_CHUNK = 1 << 16
_LOCK = threading.RLock()
WINDOW = 1.1  # seconds: NCBI's one second, with room for jitter on the way there
_STARTS: deque[float] = deque(maxlen=10)  # request starts in this process, newest last


class EutilsUnreachable(KetaqaError):
    """NCBI could not be reached at all (no network, DNS, refused, repeated timeouts)."""


class DeadlineReached(KetaqaError):
    """The overall deadline of a fetch passed; what was fetched so far is kept."""


class EutilsHTTPError(KetaqaError):
    """NCBI answered with an HTTP error that retrying did not cure."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ResponseTooLarge(EutilsHTTPError):
    """An answer larger than `EutilsConfig.max_response_bytes`; refused, not retried."""


def normalise_title(title: str) -> str:
    """Titles compared loosely: case, accents, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", folded.lower()))


@dataclass(frozen=True)
class EutilsConfig:
    base_url: str = EUTILS_URL
    email: str | None = None
    api_key: str | None = None
    timeout: float = 30.0  # seconds per request, however slowly the answer trickles in
    max_retries: int = 4  # retries after the first attempt, for 429/5xx/timeouts
    backoff: float = 1.0  # delay before a retry, unless the server sends Retry-After
    max_wait: float = 60.0  # cap on any one delay, Retry-After included
    max_response_bytes: int = MAX_RESPONSE_BYTES
    deadline: float | None = None  # time.monotonic() after which no request starts or waits


@dataclass(frozen=True)
class CitationQuery:
    """One ECitMatch line: journal|year|volume|first page|author|key."""

    key: str
    journal: str
    year: str
    volume: str
    first_page: str
    author: str

    def line(self) -> str:
        fields = (self.journal, self.year, self.volume, self.first_page, self.author)
        cleaned = [f.replace("|", " ").strip().lower() for f in fields]
        return "|".join([*cleaned, self.key]) + "|"


class EntrezClient:
    """probe, ecitmatch, esearch and efetch against E-utilities, through `Bio.Entrez`."""

    def __init__(self, config: EutilsConfig, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.sleep = sleep

    # -- the calls ---------------------------------------------------------------------------
    def probe(self, timeout: float) -> bool:
        """Whether E-utilities answer one small request within `timeout` seconds (no retry)."""
        try:
            with (
                self._session(timeout=timeout, tries=1),
                Entrez.einfo(retmode="json", **self._who()) as handle,
            ):
                handle.read()
        except (urllib.error.URLError, OSError, http.client.HTTPException, KetaqaError):
            return False
        return True

    def ecitmatch(self, citations: Sequence[CitationQuery]) -> dict[str, str]:
        """ECitMatch's answer per key: a PMID, "NOT_FOUND…" or "AMBIGUOUS…" as NCBI says."""
        if not citations:
            return {}
        bdata = "\r".join(c.line() for c in citations)
        data = self._call(
            "ecitmatch.cgi", Entrez.ecitmatch, db="pubmed", retmode="xml", bdata=bdata
        )
        return parse_ecitmatch(data.decode("utf-8", "replace"))

    def esearch(self, term: str) -> list[str]:
        """PMIDs matching a PubMed query (at most 20; callers only accept a single hit)."""
        data = self._call("esearch.fcgi", Entrez.esearch, db="pubmed", term=term, retmode="json")
        try:
            result = json.loads(data.decode("utf-8"))["esearchresult"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise PubmedXMLError(f"esearch for {term!r}: unreadable answer from NCBI") from exc
        if "ERROR" in result:
            raise PubmedXMLError(f"esearch for {term!r}: NCBI said {result['ERROR']}")
        return [str(i) for i in result.get("idlist", [])]

    def efetch(self, pmids: Sequence[str]) -> bytes:
        """PubMed XML (a PubmedArticleSet) for these PMIDs."""
        return self._call(
            "efetch.fcgi",
            Entrez.efetch,
            db="pubmed",
            id=",".join(pmids),
            rettype="abstract",
            retmode="xml",
        )

    # -- plumbing ----------------------------------------------------------------------------
    def _who(self) -> dict[str, str]:
        """Passed on each call, so Bio.Entrez's module-wide email/api_key are never used."""
        who = {"tool": TOOL}
        if self.config.email:
            who["email"] = self.config.email
        if self.config.api_key:
            who["api_key"] = self.config.api_key
        return who

    def _call(self, endpoint: str, function: Callable[..., Any], **params: str) -> bytes:
        cfg = self.config
        where = cfg.base_url  # never the full URL: it may carry the API key
        try:
            with (
                self._session(timeout=cfg.timeout, tries=cfg.max_retries + 1),
                function(**params, **self._who()) as handle,
            ):
                data = handle.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            raise EutilsHTTPError(
                exc.code, f"NCBI E-utilities {endpoint} answered HTTP {exc.code} {exc.reason}"
            ) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timed_out(where) from None
            raise EutilsUnreachable(
                f"cannot reach NCBI E-utilities at {where}: {exc.reason}"
            ) from None
        except TimeoutError:
            raise self._timed_out(where) from None
        except (http.client.HTTPException, ConnectionError) as exc:
            raise EutilsUnreachable(f"cannot reach NCBI E-utilities at {where}: {exc!r}") from None
        return data.encode("utf-8") if isinstance(data, str) else data

    def _timed_out(self, where: str) -> EutilsUnreachable:
        cfg = self.config
        return EutilsUnreachable(
            f"cannot reach NCBI E-utilities at {where}: timed out after "
            f"{cfg.timeout:g} s ({cfg.max_retries + 1} attempts); try --timeout or later"
        )

    @contextlib.contextmanager
    def _session(self, timeout: float, tries: int) -> Iterator[None]:
        """Bio.Entrez pointed at our base URL, with our timeout and retries, then restored."""
        with _LOCK:
            saved = (Entrez.urlopen, Entrez.max_tries, Entrez.sleep_between_tries)
            Entrez.urlopen = self._opener(timeout, tries)
            Entrez.max_tries = max(1, tries)
            Entrez.sleep_between_tries = self.config.backoff
            try:
                with warnings.catch_warnings():
                    # We warn about a missing e-mail ourselves, once, in the CLI.
                    warnings.filterwarnings("ignore", message=r"(?s)\s*Email address is not")
                    yield
            finally:
                Entrez.urlopen, Entrez.max_tries, Entrez.sleep_between_tries = saved

    def _opener(self, timeout: float, tries: int) -> Callable[[urllib.request.Request], Any]:
        base = self.config.base_url.rstrip("/") + "/"
        attempts = [0]

        def urlopen(request: urllib.request.Request) -> Any:
            url = request.full_url
            if url.startswith(BIOPYTHON_URL):
                url = base + url[len(BIOPYTHON_URL) :]
            moved = urllib.request.Request(
                url,
                data=request.data,
                headers={**request.headers, "User-Agent": USER_AGENT},
                method=request.get_method(),
            )
            attempts[0] += 1
            endpoint = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]  # never the query
            self._keep_window(endpoint)
            try:
                with urllib.request.urlopen(moved, timeout=timeout) as response:
                    return self._read(response, endpoint, timeout)
            except urllib.error.HTTPError as exc:
                if exc.code in RETRY_STATUS and attempts[0] < tries:
                    delay = self._delay(exc)
                    self._check_deadline(endpoint, delay)
                    self.sleep(delay)
                raise
            except TimeoutError as exc:
                # A timeout while waiting for the answer is not a URLError; make it one so
                # Bio.Entrez retries it like a timeout while connecting.
                raise urllib.error.URLError(exc) from None

        return urlopen

    def _keep_window(self, endpoint: str) -> None:
        """At most 3 (10 with a key) request starts in any WINDOW seconds.

        Bio.Entrez spaces requests 0.37 s apart, or 0.1 s with a key; 0.1 s can put an 11th
        request inside one second as NCBI counts it, so this guard holds the line exactly."""
        limit = 10 if self.config.api_key else 3
        recent = list(_STARTS)[-limit:]
        wait = recent[0] + WINDOW - time.monotonic() if len(recent) == limit else 0.0
        self._check_deadline(endpoint, max(wait, 0.0))
        if wait > 0:
            self.sleep(wait)
        _STARTS.append(time.monotonic())

    def _check_deadline(self, endpoint: str, wait: float = 0.0) -> None:
        """DeadlineReached when the deadline has passed, or would pass during `wait`.

        Not a URLError, so Bio.Entrez does not retry it: it ends the call at once."""
        deadline = self.config.deadline
        if deadline is not None and time.monotonic() + wait >= deadline:
            raise DeadlineReached(f"the fetch deadline passed before {endpoint} could finish")

    def _read(
        self, response: http.client.HTTPResponse, endpoint: str, timeout: float
    ) -> _ReadAnswer:
        """The body, read in chunks: at most `max_response_bytes`, within `timeout` in all."""
        limit = self.config.max_response_bytes
        started = time.monotonic()
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(
                    200,
                    f"NCBI E-utilities {endpoint} answer is larger than {limit:,} bytes; refused",
                )
            chunks.append(chunk)
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{endpoint} answer took over {timeout:g} s")
        return _ReadAnswer(b"".join(chunks), response.headers, response.url)

    def _delay(self, exc: urllib.error.HTTPError) -> float:
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        delay = self.config.backoff if retry_after is None else retry_after
        return min(delay, self.config.max_wait)


class _ReadAnswer(io.BytesIO):
    """An answer already read in full, with what Bio.Entrez looks at (`headers`, `url`)."""

    def __init__(self, body: bytes, headers: Any, url: str):
        super().__init__(body)
        self.headers = headers
        self.url = url


def parse_ecitmatch(text: str) -> dict[str, str]:
    """`journal|year|volume|page|author|key|RESULT` lines -> {key: RESULT}."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) >= 7 and fields[5]:
            out[fields[5]] = fields[6].strip()
    return out


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds; HTTP-date values are ignored in favour of our own backoff."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)
