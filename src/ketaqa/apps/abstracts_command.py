"""`ketaqa abstracts fetch | import | status`: run the acquisition step, print its report.

The `abstracts` modules return reports as dataclasses; the wording a user reads is here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ketaqa.abstracts.fetch import FetchReport, fetch
from ketaqa.abstracts.importer import ImportReport, import_path
from ketaqa.abstracts.resolve import load_resolutions
from ketaqa.abstracts.status import AbstractStatus, status
from ketaqa.config import Settings
from ketaqa.errors import InputError
from ketaqa.pipeline.documents.abstract_corpus import ABSTRACTS_DIR
from ketaqa.pipeline.documents.corpus import REFERENCES_FILE, load_references
from ketaqa.progress import Progress


def cmd_abstracts(args: argparse.Namespace, progress: Progress) -> int:
    settings = Settings.from_env()
    corpus_dir = settings.corpus_dir
    references = load_references(corpus_dir / REFERENCES_FILE)
    if not references:
        raise InputError(f"no references in {corpus_dir / REFERENCES_FILE}")
    command = args.abstracts_command
    if command == "fetch":
        email = args.email or settings.abstracts.ncbi_email
        api_key = args.api_key or settings.abstracts.ncbi_api_key
        if args.timeout <= 0:
            raise InputError("--timeout must be a positive number of seconds")
        if args.deadline <= 0:
            raise InputError("--deadline must be a positive number of seconds")
        if not email:
            progress("no --email given; NCBI asks every client for a contact address")
        report = fetch(
            corpus_dir,
            references,
            email,
            api_key,
            args.base_url or settings.abstracts.eutils_url,
            progress,
            timeout=args.timeout,
            refresh=args.refresh,
            deadline=args.deadline,
        )
        print(format_fetch_report(report))
        if report.fetched:
            progress("run `ketaqa index` to add the new abstracts to the index")
    elif command == "import":
        imported = import_path(corpus_dir, args.path, references, progress)
        print(format_import_report(imported))
        for error in imported.errors:
            progress(f"skipped: {error}")
        if imported.imported:
            progress("run `ketaqa index` to add the new abstracts to the index")
        if imported.errors:
            return 1
    elif command == "status":
        report = status(corpus_dir, references, load_resolutions(corpus_dir))
        print(format_status(report, corpus_dir))
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
        f"unmatched {len(report.unmatched)}, malformed {len(report.errors)}, "
        f"refused {len(report.refused)}"
    ]
    lines += [f"  imported: {key}" for key in report.imported]
    lines += [f"  no abstract in record: {key}" for key in report.no_abstract]
    lines += [f"  unmatched: {what}" for what in report.unmatched]
    lines += [f"  malformed: {what}" for what in report.errors]
    lines += [f"  refused (too large): {what}" for what in report.refused]
    return "\n".join(lines)


def format_status(st: AbstractStatus, corpus_dir: Path) -> str:
    """A summary line, then one row per reference: state, PMID, how it was found or why not."""
    should = len(st.loaded) + len(st.missing)
    lines = [f"{len(st.loaded)} of {should} abstracts loaded in {corpus_dir / ABSTRACTS_DIR}"]
    width = max((len(r.key) for r in st.rows), default=3)
    lines.append(f"{'key':<{width}}  {'state':<14}  {'PMID':<9}  {'found by':<15}  why / how")
    for r in st.rows:
        row = f"{r.key:<{width}}  {r.state:<14}  {r.pmid or '-':<9}  {r.how or '-':<15}"
        lines.append(f"{row}  {r.detail}".rstrip())
    if st.unreadable:
        lines.append("corrupt cached files (delete and fetch again): " + ", ".join(st.unreadable))
    if st.unknown:
        lines.append("cached files for keys not in references.json: " + ", ".join(st.unknown))
    return "\n".join(lines)
