"""Cited abstracts: cached PubMed records under `corpus/abstracts/`, turned into passages.

Abstracts are publishers' text: they are fetched (`ketaqa abstracts fetch`) or imported from a
PubMed XML export (`ketaqa abstracts import`) by the user and cached locally, one
`<reference key>.xml` per reference (git-ignored), never committed. With no cache the statement
alone is indexed.

Each cached abstract is rendered as plain text — "LABEL: text" paragraphs joined by blank lines
for structured abstracts — and every passage is a verbatim span of that rendering.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ketaqa.abstracts.pubmed import (
    EUTILS_URL,
    EutilsClient,
    EutilsConfig,
    EutilsHTTPError,
    PubmedRecord,
    PubmedXMLError,
    normalise_doi,
    normalise_title,
    parse_article_set,
)
from ketaqa.errors import InputError, KetaqaError
from ketaqa.files import write_atomic
from ketaqa.pipeline.corpus import REFERENCES_FILE, Document, Reference, load_references
from ketaqa.pipeline.passages import (
    MAX_WORDS,
    Passage,
    link_neighbours,
    split_sentences,
    word_count,
)
from ketaqa.pipeline.structure import PageSpan, SectionPath

log = logging.getLogger(__name__)

ABSTRACTS_DIR = "abstracts"
NO_ABSTRACT_KINDS = ("letter", "commentary", "report", "book", "placeholder")
BATCH_SIZE = 50  # PMIDs per efetch request
TITLE_SEARCH_WORDS = 10
_STOPWORDS = frozenset(
    "a an and are as at by for from in into is its of on or the to with without does not vs".split()
)
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


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
    """The one article in a cached file; PubmedXMLError when it is corrupt."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PubmedXMLError(f"{path}: cannot read ({exc.strerror})") from exc
    records = parse_article_set(data, str(path))
    if len(records) != 1:
        raise PubmedXMLError(f"{path}: expected one PubmedArticle, found {len(records)}")
    return records[0]


def cached_ids(corpus_dir: Path) -> dict[str, dict[str, str | None]]:
    """PMID and DOI of every readable cached abstract, by reference key.

    A fetch may resolve a PMID that references.json lacks; front ends merge these in.
    """
    out: dict[str, dict[str, str | None]] = {}
    for path in abstract_files(corpus_dir):
        try:
            record = read_cached(path)
        except KetaqaError as exc:
            log.warning("skipping cached abstract: %s", exc)
            continue
        out[path.stem] = {"pmid": record.pmid, "doi": record.doi}
    return out


def with_cached_ids(references: Iterable[Reference], corpus_dir: Path) -> tuple[Reference, ...]:
    """References with a missing PMID/DOI filled in from their cached abstract."""
    ids = cached_ids(corpus_dir)
    out = []
    for ref in references:
        found = ids.get(ref.key, {})
        pmid, doi = ref.pmid or found.get("pmid"), ref.doi or found.get("doi")
        out.append(replace(ref, pmid=pmid, doi=doi))
    return tuple(out)


def none_by_nature(ref: Reference) -> str | None:
    """Why a reference has no abstract to fetch, or None when it should have one."""
    if ref.kind in NO_ABSTRACT_KINDS:
        return f"{ref.kind}: no abstract by nature"
    if not ref.has_abstract:
        return "has_abstract is false in references.json"
    return None


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
    for path in abstract_files(corpus_dir):
        try:
            record = read_cached(path)
        except KetaqaError as exc:
            log.warning("skipping cached abstract: %s", exc)
            continue
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
        for s, e in sentence_groups(rendered.text, start, end):
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


def sentence_groups(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span itself when short, else consecutive sentences up to MAX_WORDS each."""
    if word_count(text[start:end]) <= MAX_WORDS:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    for s, e in split_sentences(text[start:end], start):
        if pieces and word_count(text[pieces[-1][0] : e]) <= MAX_WORDS:
            pieces[-1] = (pieces[-1][0], e)
        else:
            pieces.append((s, e))
    return pieces


# ---------------------------------------------------------------------------------------------
# Fetch from NCBI


@dataclass(frozen=True)
class Missing:
    key: str
    reason: str


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
    progress: Progress = _quiet,
    *,
    timeout: float = 30.0,
    max_retries: int = 4,
    backoff: float = 1.0,
    batch_size: int = BATCH_SIZE,
    refresh: bool = False,
) -> FetchReport:
    """Fetch the abstract of every reference that should have one and is not cached yet.

    Missing PMIDs are looked up by DOI, else by title + first author + year (a single hit
    only). Records are fetched in batches and matched back by PMID. When NCBI cannot be reached,
    raises KetaqaError; whatever was already written is complete (writes are atomic).
    """
    config = EutilsConfig(
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
        if path.exists() and not refresh and _readable(path):
            cached.append(ref.key)
        else:
            todo.append(ref)
    progress(
        f"abstracts: {len(todo)} to fetch, {len(cached)} already cached, "
        f"{len(skipped)} with none by nature"
    )

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

    fetched: list[str] = []
    pmids = list(keys_by_pmid)
    for i in range(0, len(pmids), batch_size):
        batch = pmids[i : i + batch_size]
        progress(f"fetching {len(batch)} record(s) from PubMed")
        try:
            records = parse_article_set(client.efetch(batch), "efetch answer from NCBI")
        except EutilsHTTPError as exc:
            missing += [
                Missing(k, f"HTTP error {exc.status}") for p in batch for k in keys_by_pmid[p]
            ]
            continue
        except PubmedXMLError as exc:
            missing += [
                Missing(k, f"malformed XML from NCBI ({exc})")
                for p in batch
                for k in keys_by_pmid[p]
            ]
            continue
        by_pmid = {r.pmid: r for r in records if r.pmid}
        for pmid in batch:
            record = by_pmid.get(pmid)
            for key in keys_by_pmid[pmid]:
                if record is None:
                    missing.append(Missing(key, f"PMID {pmid} not in NCBI's answer"))
                elif not record.has_abstract:
                    missing.append(Missing(key, f"no abstract in PubMed record {pmid}"))
                else:
                    write_atomic(cache_path(corpus_dir, key), record.xml)
                    fetched.append(key)
    return FetchReport(
        tuple(sorted(fetched)),
        tuple(cached),
        tuple(sorted(missing, key=lambda m: m.key)),
        tuple(skipped),
    )


def _readable(path: Path) -> bool:
    try:
        read_cached(path)
    except KetaqaError:
        return False
    return True


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


# ---------------------------------------------------------------------------------------------
# Import a PubMed XML export


@dataclass(frozen=True)
class ImportReport:
    imported: tuple[str, ...]  # reference keys written to the cache
    no_abstract: tuple[str, ...]  # matched, but the record has no abstract
    unmatched: tuple[str, ...]  # "file: PMID … 'title'" for records matching no reference


def import_path(
    corpus_dir: Path, path: Path, references: Iterable[Reference], progress: Progress = _quiet
) -> ImportReport:
    """Import a PubMed XML export (or a folder of them) into the cache.

    Each article is matched to a reference by PMID, else DOI, else normalised title. Every file
    is parsed before anything is written, so a malformed file leaves the cache untouched.
    """
    files = _import_files(path)
    parsed = [(f, parse_article_set(_read_input(f), str(f))) for f in files]
    refs = list(references)
    by_pmid = {r.pmid: r for r in refs if r.pmid}
    by_doi = {d: r for r in refs if (d := normalise_doi(r.doi))}
    by_title = {normalise_title(r.title): r for r in refs if r.title}
    chosen: dict[str, PubmedRecord] = {}
    no_abstract: list[str] = []
    unmatched: list[str] = []
    for file, records in parsed:
        for record in records:
            ref = (
                by_pmid.get(record.pmid or "")
                or by_doi.get(record.doi or "")
                or by_title.get(normalise_title(record.title))
            )
            if ref is None:
                title = record.title if len(record.title) <= 60 else record.title[:57] + "..."
                unmatched.append(f"{file.name}: PMID {record.pmid or '?'} {title!r}")
            elif not record.has_abstract:
                no_abstract.append(ref.key)
            elif ref.key not in chosen:
                chosen[ref.key] = record
    for key in sorted(chosen):
        write_atomic(cache_path(corpus_dir, key), chosen[key].xml)
        progress(f"{key}: abstract imported")
    return ImportReport(
        tuple(sorted(chosen)), tuple(sorted(set(no_abstract) - set(chosen))), tuple(unmatched)
    )


def _import_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.xml") if p.is_file())
        if not files:
            raise InputError(f"no .xml files in {path}; export PubMed records as XML")
        return files
    if path.is_file():
        return [path]
    raise InputError(f"not found: {path}")


def _read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


# ---------------------------------------------------------------------------------------------
# Status


@dataclass(frozen=True)
class AbstractStatus:
    loaded: tuple[str, ...]  # cited references with a readable cached abstract
    missing: tuple[str, ...]  # should have an abstract, none cached
    none_by_nature: tuple[Missing, ...]  # letters, reports, … or has_abstract false
    unreadable: tuple[str, ...]  # cached files that are corrupt
    unknown: tuple[str, ...]  # cached files whose key is not in references.json


def status(corpus_dir: Path, references: Iterable[Reference]) -> AbstractStatus:
    refs = sorted(references, key=lambda r: r.key)
    known = {r.key for r in refs}
    readable, unreadable = set(), []
    for path in abstract_files(corpus_dir):
        if _readable(path):
            readable.add(path.stem)
        else:
            unreadable.append(path.name)
    loaded = tuple(r.key for r in refs if r.key in readable)
    nature = tuple(
        Missing(r.key, why) for r in refs if r.key not in readable and (why := none_by_nature(r))
    )
    missing = tuple(r.key for r in refs if r.key not in readable and none_by_nature(r) is None)
    unknown = tuple(sorted(readable - known))
    return AbstractStatus(loaded, missing, nature, tuple(unreadable), unknown)


# ---------------------------------------------------------------------------------------------
# Command line: `ketaqa abstracts fetch | import | status`


def add_abstracts_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "abstracts", help="fetch, import or list the cited references' PubMed abstracts"
    )
    sub = parser.add_subparsers(dest="abstracts_command", required=True)
    p_fetch = sub.add_parser("fetch", help="download missing abstracts from PubMed (NCBI)")
    p_fetch.add_argument(
        "--email",
        default=None,
        help="your e-mail, sent to NCBI as they ask (or KETAQA_NCBI_EMAIL)",
    )
    p_fetch.add_argument(
        "--api-key",
        default=None,
        help="NCBI API key: 10 requests/s instead of 3 (or KETAQA_NCBI_API_KEY)",
    )
    p_fetch.add_argument("--base-url", default=EUTILS_URL, help="E-utilities base URL")
    p_fetch.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p_fetch.add_argument("--refresh", action="store_true", help="fetch cached ones again too")
    p_import = sub.add_parser("import", help="import a PubMed XML export (file or folder)")
    p_import.add_argument("path", type=Path, help="PubmedArticleSet .xml file, or a folder")
    sub.add_parser("status", help="which cited references have an abstract loaded")
    return parser


def cmd_abstracts(args: argparse.Namespace, progress: Progress) -> int:
    from ketaqa.config import Settings

    settings = Settings.from_env()
    corpus_dir = settings.corpus_dir
    references = load_references(corpus_dir / REFERENCES_FILE)
    if not references:
        raise InputError(f"no references in {corpus_dir / REFERENCES_FILE}")
    command = args.abstracts_command
    if command == "fetch":
        args.email = args.email or settings.abstracts.ncbi_email
        args.api_key = args.api_key or settings.abstracts.ncbi_api_key
        if args.timeout <= 0:
            raise InputError("--timeout must be a positive number of seconds")
        if not args.email:
            progress("no --email given; NCBI asks every client for a contact address")
        report = fetch(
            corpus_dir,
            references,
            args.email,
            args.api_key,
            args.base_url,
            progress,
            timeout=args.timeout,
            refresh=args.refresh,
        )
        print(format_fetch_report(report))
        if report.fetched:
            progress("run `ketaqa index` to add the new abstracts to the index")
    elif command == "import":
        imported = import_path(corpus_dir, args.path, references, progress)
        print(format_import_report(imported))
        if imported.imported:
            progress("run `ketaqa index` to add the new abstracts to the index")
    elif command == "status":
        print(format_status(status(corpus_dir, references), corpus_dir))
    else:
        raise InputError(f"unknown abstracts command {command!r}")
    return 0


def format_fetch_report(report: FetchReport) -> str:
    lines = [
        f"fetched {len(report.fetched)}, already cached {len(report.cached)}, "
        f"missing {len(report.missing)}, none by nature {len(report.skipped)}"
    ]
    lines += [f"  fetched: {key}" for key in report.fetched]
    lines += [f"  missing: {m.key} ({m.reason})" for m in report.missing]
    return "\n".join(lines)


def format_import_report(report: ImportReport) -> str:
    lines = [
        f"imported {len(report.imported)}, no abstract {len(report.no_abstract)}, "
        f"unmatched {len(report.unmatched)}"
    ]
    lines += [f"  imported: {key}" for key in report.imported]
    lines += [f"  no abstract in record: {key}" for key in report.no_abstract]
    lines += [f"  unmatched: {what}" for what in report.unmatched]
    return "\n".join(lines)


def format_status(st: AbstractStatus, corpus_dir: Path) -> str:
    should = len(st.loaded) + len(st.missing)
    lines = [f"{len(st.loaded)} of {should} abstracts loaded in {corpus_dir / ABSTRACTS_DIR}"]
    if st.loaded:
        lines.append("loaded: " + ", ".join(st.loaded))
    if st.missing:
        lines.append("missing: " + ", ".join(st.missing))
    if st.none_by_nature:
        lines.append(f"no abstract by nature ({len(st.none_by_nature)}):")
        lines += [f"  {m.key}: {m.reason}" for m in st.none_by_nature]
    if st.unreadable:
        lines.append("corrupt cached files (delete and fetch again): " + ", ".join(st.unreadable))
    if st.unknown:
        lines.append("cached files for keys not in references.json: " + ", ".join(st.unknown))
    return "\n".join(lines)
