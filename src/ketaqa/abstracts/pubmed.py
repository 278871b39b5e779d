"""PubMed: a small NCBI E-utilities client (its answers are parsed by `pipeline.pubmed_xml`).

Only the standard library (urllib): abstracts are an optional extra, so they must not
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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ketaqa.errors import KetaqaError
from ketaqa.pipeline.pubmed_xml import PubmedXMLError

EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
TOOL = "ketaqa"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 64_000_000  # 50 records of at most 1 MB each, with room to spare
READ_CHUNK = 1 << 16
USER_AGENT = "ketaqa (+https://www.ncbi.nlm.nih.gov/books/NBK25497/)"


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
    timeout: float = 30.0  # seconds per request, however slowly the answer trickles in
    max_retries: int = 4  # retries after the first attempt, for 429/5xx/timeouts
    backoff: float = 1.0  # first retry delay; doubles each time
    max_wait: float = 60.0  # cap on any one delay, Retry-After included
    max_response_bytes: int = MAX_RESPONSE_BYTES
    deadline: float | None = None  # clock() time after which no request starts or waits

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
        self.clock = clock
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
            self._check_deadline(endpoint)
            self.limiter.wait()
            try:
                with urllib.request.urlopen(request, timeout=cfg.timeout) as response:
                    return self._read(response, endpoint)
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
            self._check_deadline(endpoint, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _check_deadline(self, endpoint: str, wait: float = 0.0) -> None:
        """DeadlineReached when the deadline has passed, or would pass during `wait`."""
        deadline = self.config.deadline
        if deadline is not None and self.clock() + wait >= deadline:
            raise DeadlineReached(f"the fetch deadline passed before {endpoint} could finish")

    def _read(self, response: http.client.HTTPResponse, endpoint: str) -> bytes:
        """The body, read in chunks: at most `max_response_bytes`, and within `timeout`
        seconds in all (the socket timeout only bounds each single wait, so a server
        trickling a byte at a time would otherwise hold us forever)."""
        cfg = self.config
        started = self.clock()
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read1(READ_CHUNK):
            size += len(chunk)
            if size > cfg.max_response_bytes:
                raise ResponseTooLarge(
                    200,
                    f"NCBI E-utilities {endpoint} answer is larger than "
                    f"{cfg.max_response_bytes:,} bytes; refused",
                )
            chunks.append(chunk)
            if self.clock() - started > cfg.timeout:
                raise TimeoutError(f"{endpoint} answer took over {cfg.timeout:g} s")
        return b"".join(chunks)

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
