"""Fetch the cited references' abstracts from PubMed into the cache, finding missing PMIDs.

A reference without a PMID is looked up by DOI, else by title + first author + year, and only a
single unambiguous hit is accepted: a wrong abstract beside a citation is worse than none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketaqa.abstracts.pubmed import (
    EUTILS_URL,
    DeadlineReached,
    EutilsClient,
    EutilsConfig,
    EutilsHTTPError,
    ResponseTooLarge,
    normalise_title,
)
from ketaqa.abstracts.status import Missing, none_by_nature
from ketaqa.files import write_atomic
from ketaqa.pipeline.abstract_corpus import cache_path, is_readable
from ketaqa.pipeline.corpus import Reference
from ketaqa.pipeline.pubmed_xml import PubmedXMLError, parse_article_set
from ketaqa.progress import Progress, quiet

BATCH_SIZE = 50  # PMIDs per efetch request
DEFAULT_DEADLINE = 300.0  # seconds for a whole fetch; run it again to fetch the rest
DEADLINE_REASON = "not fetched: the deadline passed; run `ketaqa abstracts fetch` again"
TITLE_SEARCH_WORDS = 10
_STOPWORDS = frozenset(
    "a an and are as at by for from in into is its of on or the to with without does not vs".split()
)


@dataclass(frozen=True)
class FetchReport:
    fetched: tuple[str, ...]
    cached: tuple[str, ...]  # already in the cache, not fetched again
    missing: tuple[Missing, ...]  # should have an abstract but none was stored
    skipped: tuple[Missing, ...]  # no abstract by nature (kind, or has_abstract false)


def fetch(
    corpus_dir: Path,
    references: Iterable[Reference],
    email: str | None = None,
    api_key: str | None = None,
    base_url: str = EUTILS_URL,
    progress: Progress = quiet,
    *,
    timeout: float = 30.0,
    max_retries: int = 4,
    backoff: float = 1.0,
    batch_size: int = BATCH_SIZE,
    refresh: bool = False,
    deadline: float | None = DEFAULT_DEADLINE,
) -> FetchReport:
    """Fetch the abstract of every reference that should have one and is not cached yet.

    Missing PMIDs are looked up by DOI, else by title + first author + year (a single hit
    only). Records are fetched in batches and matched back by PMID. When NCBI cannot be reached,
    raises KetaqaError; whatever was already written is complete (writes are atomic). After
    `deadline` seconds no request starts: what was fetched is kept and the rest is reported
    missing, so running the command again resumes where it stopped.
    """
    config = EutilsConfig(
        deadline=None if deadline is None else time.monotonic() + deadline,
        base_url=base_url,
        email=email or None,
        api_key=api_key or None,
        timeout=timeout,
        max_retries=max_retries,
        backoff=backoff,
    )
    client = EutilsClient(config)
    refs = sorted(references, key=lambda r: r.key)
    skipped = [Missing(r.key, why) for r in refs if (why := none_by_nature(r))]
    wanted = [r for r in refs if none_by_nature(r) is None]
    cached: list[str] = []
    todo: list[Reference] = []
    for ref in wanted:
        path = cache_path(corpus_dir, ref.key)
        if path.exists() and not refresh and is_readable(path):
            cached.append(ref.key)
        else:
            todo.append(ref)
    progress(
        f"abstracts: {len(todo)} to fetch, {len(cached)} already cached, "
        f"{len(skipped)} with none by nature"
    )

    fetched: list[str] = []
    missing: list[Missing] = []
    try:
        keys_by_pmid, missing = _resolve_pmids(client, todo, progress)
        pmids = list(keys_by_pmid)
        for i in range(0, len(pmids), batch_size):
            batch = pmids[i : i + batch_size]
            progress(f"fetching {len(batch)} record(s) from PubMed")
            stored, lost = _fetch_batch(client, corpus_dir, batch, keys_by_pmid)
            fetched += stored
            missing += lost
    except DeadlineReached:
        progress(f"deadline of {deadline:g} s reached; keeping the {len(fetched)} fetched")
        done = set(fetched) | {m.key for m in missing}
        missing += [Missing(r.key, DEADLINE_REASON) for r in todo if r.key not in done]
    return FetchReport(
        tuple(sorted(fetched)),
        tuple(cached),
        tuple(sorted(missing, key=lambda m: m.key)),
        tuple(skipped),
    )


def _resolve_pmids(
    client: EutilsClient, todo: list[Reference], progress: Progress
) -> tuple[dict[str, list[str]], list[Missing]]:
    """Reference keys by PMID (several references may cite one record), and those with none."""
    missing: list[Missing] = []
    keys_by_pmid: dict[str, list[str]] = {}
    for ref in todo:
        pmid, reason = ref.pmid, None
        if not pmid:
            pmid, reason = resolve_pmid(client, ref)
            if pmid:
                progress(f"{ref.key}: found PMID {pmid}")
        if pmid:
            keys_by_pmid.setdefault(pmid, []).append(ref.key)
        else:
            missing.append(Missing(ref.key, reason or "no PMID found"))
    return keys_by_pmid, missing


def _fetch_batch(
    client: EutilsClient,
    corpus_dir: Path,
    batch: list[str],
    keys_by_pmid: dict[str, list[str]],
) -> tuple[list[str], list[Missing]]:
    """One efetch: the keys written to the cache, and why the others were not."""
    try:
        records = parse_article_set(client.efetch(batch), "efetch answer from NCBI")
    except ResponseTooLarge as exc:
        return [], [Missing(k, str(exc)) for p in batch for k in keys_by_pmid[p]]
    except EutilsHTTPError as exc:
        return [], [Missing(k, f"HTTP error {exc.status}") for p in batch for k in keys_by_pmid[p]]
    except PubmedXMLError as exc:
        return [], [
            Missing(k, f"malformed XML from NCBI ({exc})") for p in batch for k in keys_by_pmid[p]
        ]
    fetched: list[str] = []
    missing: list[Missing] = []
    by_pmid = {r.pmid: r for r in records if r.pmid}
    for pmid in batch:
        record = by_pmid.get(pmid)
        for key in keys_by_pmid[pmid]:
            if record is None:
                missing.append(Missing(key, f"PMID {pmid} not in NCBI's answer"))
            elif not record.has_abstract:
                missing.append(Missing(key, f"no abstract in PubMed record {pmid}"))
            elif why := record.too_large:
                missing.append(Missing(key, f"refused PubMed record {pmid}: {why}"))
            else:
                write_atomic(cache_path(corpus_dir, key), record.xml)
                fetched.append(key)
    return fetched, missing


def resolve_pmid(client: EutilsClient, ref: Reference) -> tuple[str | None, str | None]:
    """`(pmid, None)` for a single unambiguous hit, else `(None, reason)`."""
    queries = []
    if ref.doi:
        queries.append(f'"{ref.doi}"[doi]')
    if title_query := title_search_term(ref):
        queries.append(title_query)
    reason = "no PMID found"
    for term in queries:
        try:
            ids = client.esearch(term)
        except EutilsHTTPError as exc:
            return None, f"HTTP error {exc.status}"
        except PubmedXMLError as exc:
            return None, str(exc)
        if len(ids) == 1:
            return ids[0], None
        if len(ids) > 1:
            reason = f"ambiguous: {len(ids)} PubMed records match {term!r}"
    return None, reason


def title_search_term(ref: Reference) -> str | None:
    """A PubMed query from the title's content words, the first author and the year."""
    words = [w for w in normalise_title(ref.title).split() if w not in _STOPWORDS and len(w) > 1]
    if not words:
        return None
    parts = [f"{w}[ti]" for w in words[:TITLE_SEARCH_WORDS]]
    surname = ref.first_author_surname
    if ref.authors and surname:
        parts.append(f"{surname}[au]")
    if ref.year:
        parts.append(f"{ref.year}[dp]")
    return " AND ".join(parts)
