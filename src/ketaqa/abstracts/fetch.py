"""Fetch the cited references' abstracts from PubMed into the cache, finding missing PMIDs.

A reference without a PMID is looked up by ECitMatch, then DOI, then title (`resolve`), and
only a single unambiguous hit is accepted: a wrong abstract beside a citation is worse than none.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketaqa.abstracts.entrez import (
    EUTILS_URL,
    DeadlineReached,
    EntrezClient,
    EutilsConfig,
    EutilsHTTPError,
    ResponseTooLarge,
)
from ketaqa.abstracts.resolve import resolve_all, save_resolutions
from ketaqa.abstracts.status import Missing, none_by_nature
from ketaqa.files import write_atomic
from ketaqa.pipeline.documents.abstract_corpus import cache_path, is_readable
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.pubmed_xml import PubmedXMLError, parse_article_set
from ketaqa.progress import Progress, quiet

BATCH_SIZE = 50  # PMIDs per efetch request
DEFAULT_DEADLINE = 300.0  # seconds for a whole fetch; run it again to fetch the rest
DEADLINE_REASON = "not fetched: the deadline passed; run `ketaqa abstracts fetch` again"


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

    Missing PMIDs are looked up by ECitMatch, DOI, then title (a single hit only). Records
    are fetched in batches and matched back by PMID. When NCBI cannot be reached, raises
    KetaqaError; whatever was already written is complete (writes are atomic). After
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
    client = EntrezClient(config)
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
        keys_by_pmid, missing = _resolve_pmids(client, todo, corpus_dir, progress)
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
    client: EntrezClient, todo: list[Reference], corpus_dir: Path, progress: Progress
) -> tuple[dict[str, list[str]], list[Missing]]:
    """Reference keys by PMID (several references may cite one record), and those with none.

    Every outcome is logged for `abstracts status`."""
    resolutions = resolve_all(client, todo) if todo else []
    if resolutions:
        save_resolutions(corpus_dir, resolutions)
    missing: list[Missing] = []
    keys_by_pmid: dict[str, list[str]] = {}
    for res in resolutions:
        if res.pmid:
            if res.how != "references.json":
                progress(f"{res.key}: found PMID {res.pmid} by {res.how}")
            keys_by_pmid.setdefault(res.pmid, []).append(res.key)
        else:
            missing.append(Missing(res.key, res.detail or "no PMID found"))
    return keys_by_pmid, missing


def _fetch_batch(
    client: EntrezClient,
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
