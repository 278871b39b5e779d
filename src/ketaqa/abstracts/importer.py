"""Import a PubMed XML export (a file, or a folder of them) into the abstract cache."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketaqa.abstracts.pubmed import normalise_title
from ketaqa.errors import InputError
from ketaqa.files import write_atomic
from ketaqa.pipeline.abstract_corpus import cache_path
from ketaqa.pipeline.corpus import Reference
from ketaqa.pipeline.pubmed_xml import PubmedRecord, normalise_doi, parse_article_set
from ketaqa.progress import Progress, quiet


@dataclass(frozen=True)
class ImportReport:
    imported: tuple[str, ...]  # reference keys written to the cache
    no_abstract: tuple[str, ...]  # matched, but the record has no abstract
    unmatched: tuple[str, ...]  # "file: PMID … 'title'" for records matching no reference
    refused: tuple[str, ...] = ()  # "key: why" for records too large to index


def import_path(
    corpus_dir: Path, path: Path, references: Iterable[Reference], progress: Progress = quiet
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
    refused: list[str] = []
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
            elif why := record.too_large:
                refused.append(f"{ref.key}: {why}")
            elif ref.key not in chosen:
                chosen[ref.key] = record
    for key in sorted(chosen):
        write_atomic(cache_path(corpus_dir, key), chosen[key].xml)
        progress(f"{key}: abstract imported")
    return ImportReport(
        tuple(sorted(chosen)),
        tuple(sorted(set(no_abstract) - set(chosen))),
        tuple(unmatched),
        tuple(refused),
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


MAX_IMPORT_FILE_BYTES = 200_000_000  # a PubMed export of a few thousand records


def _read_input(path: Path, limit: int = MAX_IMPORT_FILE_BYTES) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise InputError(f"{path} is larger than {limit // 1_000_000} MB; split the export")
    return data
