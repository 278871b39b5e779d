"""`ketaqa abstracts fetch | import | status`: run the acquisition step, print its report.

The `abstracts` modules return reports as dataclasses; the wording a user reads is here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ketaqa.abstracts.fetch import FetchReport, fetch
from ketaqa.abstracts.importer import ImportReport, import_path
from ketaqa.abstracts.status import AbstractStatus, status
from ketaqa.config import Settings
from ketaqa.errors import InputError
from ketaqa.pipeline.abstract_corpus import ABSTRACTS_DIR
from ketaqa.pipeline.corpus import REFERENCES_FILE, load_references
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
            args.base_url,
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
        f"unmatched {len(report.unmatched)}, refused {len(report.refused)}"
    ]
    lines += [f"  imported: {key}" for key in report.imported]
    lines += [f"  no abstract in record: {key}" for key in report.no_abstract]
    lines += [f"  unmatched: {what}" for what in report.unmatched]
    lines += [f"  refused (too large): {what}" for what in report.refused]
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
