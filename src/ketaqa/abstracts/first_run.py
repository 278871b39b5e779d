"""The first run's fetch: `ketaqa index` (so `make run`) fills the abstract cache once, if online.

One short probe of E-utilities decides (`probe_timeout`, 3 s by default). Offline or refused,
one line says so and the app starts from the statement alone; the app never waits longer than
the probe. Online, missing abstracts are fetched at NCBI's polite rate, and a note in the
resolution log (`first_run` in `resolution.json`) marks it done, so later runs do not ask NCBI
again: `ketaqa abstracts fetch` is there for that. `KETAQA_ABSTRACTS=off` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ketaqa.abstracts.entrez import EntrezClient, EutilsConfig
from ketaqa.abstracts.fetch import FetchReport, fetch
from ketaqa.abstracts.status import status
from ketaqa.config import AbstractsSettings
from ketaqa.errors import KetaqaError
from ketaqa.files import write_atomic
from ketaqa.pipeline.documents.abstract_corpus import ABSTRACTS_DIR
from ketaqa.pipeline.documents.corpus import REFERENCES_FILE, load_references
from ketaqa.progress import Progress, quiet

OFFLINE = "abstracts: not fetched (offline); answering from the statement"
DONE_MARK = ".first-run-fetched"
FETCH_TIMEOUT = 10.0  # per request once the probe has answered
FETCH_RETRIES = 2


@dataclass(frozen=True)
class FirstRun:
    outcome: str  # "off", "done before", "nothing missing", "offline", "fetched", "failed"
    report: FetchReport | None = None


def first_run_fetch(
    corpus_dir: Path, settings: AbstractsSettings, progress: Progress = quiet
) -> FirstRun:
    """Fetch missing abstracts once when E-utilities answer the probe; never raises."""
    if not settings.fetch_on_index:
        return FirstRun("off")
    mark = corpus_dir / ABSTRACTS_DIR / DONE_MARK
    if mark.exists():
        return FirstRun("done before")
    try:
        references = load_references(corpus_dir / REFERENCES_FILE)
    except KetaqaError:
        return FirstRun("nothing missing")  # index reports a broken references.json itself
    if not status(corpus_dir, references).missing:
        return FirstRun("nothing missing")
    config = EutilsConfig(
        base_url=settings.eutils_url,
        email=settings.ncbi_email,
        api_key=settings.ncbi_api_key,
        timeout=FETCH_TIMEOUT,
        max_retries=FETCH_RETRIES,
    )
    if not EntrezClient(config).probe(settings.probe_timeout):
        progress(OFFLINE)
        return FirstRun("offline")
    progress("abstracts: E-utilities answered; fetching the cited abstracts once")
    try:
        report = fetch(
            corpus_dir,
            references,
            config.email,
            config.api_key,
            config.base_url,
            progress,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
    except KetaqaError as exc:
        progress(f"abstracts: fetch stopped ({exc}); answering from what is cached")
        return FirstRun("failed")
    write_atomic(mark, b"first-run fetch done; `ketaqa abstracts fetch` fetches again\n")
    progress(
        f"abstracts: fetched {len(report.fetched)}, still missing {len(report.missing)} "
        "(see `ketaqa abstracts status`)"
    )
    return FirstRun("fetched", report)
