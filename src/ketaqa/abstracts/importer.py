"""Import a PubMed XML, MEDLINE/NBIB or RIS export (a file, or a folder of them) into the cache.

The format is recognised from each file's content (`formats.sniff`). A malformed record, or a
file that cannot be read at all, is reported by name and the rest still import; only when
nothing at all could be read is the import an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ketaqa.abstracts.entrez import normalise_title
from ketaqa.abstracts.formats import RecordError, read_records
from ketaqa.abstracts.resolve import Resolution, save_resolutions
from ketaqa.errors import InputError, KetaqaError
from ketaqa.files import write_atomic
from ketaqa.pipeline.documents.abstract_corpus import cache_path
from ketaqa.pipeline.documents.corpus import Reference
from ketaqa.pipeline.documents.pubmed_xml import PubmedRecord, normalise_doi
from ketaqa.progress import Progress, quiet


@dataclass(frozen=True)
class ImportReport:
    imported: tuple[str, ...]  # reference keys written to the cache
    no_abstract: tuple[str, ...]  # matched, but the record has no abstract
    unmatched: tuple[str, ...]  # "file: PMID … 'title'" for records matching no reference
    errors: tuple[str, ...] = ()  # malformed records or unreadable files, by name
    refused: tuple[str, ...] = ()  # "key: why" for records too large to index


def import_path(
    corpus_dir: Path, path: Path, references: Iterable[Reference], progress: Progress = quiet
) -> ImportReport:
    """Import an export (or a folder of them) into the cache.

    Each record is matched to a reference by PMID, else DOI, else normalised title. Every file
    is read before anything is written; malformed records and files are skipped and named.
    """
    records, errors = _read_all(_import_files(path))
    if not records and errors:
        raise InputError("nothing imported: " + "; ".join(errors))
    refs = list(references)
    by_pmid = {r.pmid: r for r in refs if r.pmid}
    by_doi = {d: r for r in refs if (d := normalise_doi(r.doi))}
    by_title = {normalise_title(r.title): r for r in refs if r.title}
    chosen: dict[str, tuple[PubmedRecord, str]] = {}
    no_abstract: list[str] = []
    unmatched: list[str] = []
    refused: list[str] = []
    for file, record in records:
        ref, how = _match(record, by_pmid, by_doi, by_title)
        if ref is None:
            title = record.title if len(record.title) <= 60 else record.title[:57] + "..."
            unmatched.append(f"{file.name}: PMID {record.pmid or '?'} {title!r}")
        elif not record.has_abstract:
            no_abstract.append(ref.key)
        elif why := record.too_large:
            refused.append(f"{ref.key}: {why}")
        elif ref.key not in chosen:
            chosen[ref.key] = (record, f"import ({how}) from {file.name}")
    for key in sorted(chosen):
        write_atomic(cache_path(corpus_dir, key), chosen[key][0].xml)
        progress(f"{key}: abstract imported")
    if chosen:
        save_resolutions(
            corpus_dir, [Resolution(k, r.pmid, "import", how) for k, (r, how) in chosen.items()]
        )
    return ImportReport(
        tuple(sorted(chosen)),
        tuple(sorted(set(no_abstract) - set(chosen))),
        tuple(unmatched),
        errors=tuple(errors),
        refused=tuple(refused),
    )


def _match(
    record: PubmedRecord,
    by_pmid: dict[str, Reference],
    by_doi: dict[str, Reference],
    by_title: dict[str, Reference],
) -> tuple[Reference | None, str]:
    if record.pmid and record.pmid in by_pmid:
        return by_pmid[record.pmid], "PMID"
    if record.doi and record.doi in by_doi:
        return by_doi[record.doi], "DOI"
    title = normalise_title(record.title)
    if title and title in by_title:
        return by_title[title], "title"
    return None, ""


def _read_all(files: list[Path]) -> tuple[list[tuple[Path, PubmedRecord]], list[str]]:
    records: list[tuple[Path, PubmedRecord]] = []
    errors: list[str] = []
    for file in files:
        try:
            found, bad = read_records(_read_input(file), str(file))
        except KetaqaError as exc:
            errors.append(str(exc))
            continue
        records += [(file, r) for r in found]
        errors += [str(e) for e in bad if isinstance(e, RecordError)]
    return records, errors


def _import_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise InputError(f"no files in {path}; export PubMed records as XML, NBIB or RIS")
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
