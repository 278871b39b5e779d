"""`ketaqa index | ask | serve | eval | abstracts | sets | bench | loadtest | soak`: every
command in one place.

Errors the user can act on become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from ketaqa.config import offline_env
from ketaqa.errors import InputError, KetaqaError
from ketaqa.pipeline.answering.verdict import unrecognised_sentence
from ketaqa.pipeline.answering.view import AnswerView
from ketaqa.text import json_terminal_safe, terminal_safe

EXIT_USAGE = 2
EXIT_ERROR = 1
MAX_QUESTIONS_FILE_BYTES = 4_000_000  # about 2,000 questions of the longest allowed length


def _progress(message: str) -> None:
    print(f"ketaqa: {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketaqa",
        description="Verbatim, cited answers from the ketamine position statement.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_index = sub.add_parser("index", help="build the index if it is missing or stale")
    p_index.add_argument("--rebuild", action="store_true", help="rebuild even if up to date")
    p_index.add_argument(
        "--no-fetch",
        action="store_true",
        help="skip the first run's fetch of missing abstracts (or KETAQA_ABSTRACTS=off)",
    )
    p_index.add_argument(
        "--backend",
        choices=("local", "milvus"),
        help="also build or refresh the Milvus collection (default: KETAQA_BACKEND)",
    )

    p_ask = sub.add_parser("ask", help="answer a question with passages from the corpus")
    p_ask.add_argument("question", nargs="?", help="the question, in quotes")
    p_ask.add_argument("--file", type=Path, help="a file of questions, one per line")
    p_ask.add_argument("--top-k", type=int, default=5, help="passages per question (1-50)")
    p_ask.add_argument("--json", action="store_true", help="JSON output (JSON Lines with --file)")

    p_serve = sub.add_parser("serve", help="serve the browser app on this machine")
    p_serve.add_argument("--host", help="address to listen on (default 127.0.0.1; KETAQA_HOST)")
    p_serve.add_argument("--port", type=_port, help="port (default 7860; KETAQA_PORT)")
    p_serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="app processes, one per port from --port up (default 1; see README, Replicas)",
    )

    p_eval = sub.add_parser("eval", help="score every retriever on the curated question set")
    _add_eval_arguments(p_eval)
    _add_abstracts_commands(sub)
    _add_sets_command(sub)
    _add_bench_command(sub)
    _add_loadtest_command(sub)
    _add_soak_command(sub)
    return parser


def _add_eval_arguments(p_eval: argparse.ArgumentParser) -> None:
    p_eval.add_argument(
        "--split",
        choices=("dev", "test", "all"),
        default=None,
        help="default test; all with --questions",
    )
    p_eval.add_argument("--out", type=Path, help="report folder (default eval/reports/<date>/)")
    p_eval.add_argument(
        "--tune",
        action="store_true",
        help="tune fusion and abstention on the dev split and save them",
    )
    p_eval.add_argument(
        "--questions",
        type=Path,
        help="question set (default eval/questions.jsonl), e.g. a teaching set's eval export",
    )
    p_eval.add_argument("--limit", type=int, help="only the first N questions of the split")
    p_eval.add_argument(
        "--baseline",
        metavar="DIR|expected",
        help="compare with an earlier report folder or the accepted scores; exit 1 on a "
        "regression beyond the tolerance",
    )
    p_eval.add_argument(
        "--accept",
        action="store_true",
        help="write this run as the accepted scores (the gate) and per-question outcomes",
    )
    p_eval.add_argument(
        "--expected",
        type=Path,
        help="the accepted-scores file (default eval/expected_scores.json)",
    )


def _add_abstracts_commands(subparsers: argparse._SubParsersAction) -> None:
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
    p_fetch.add_argument(
        "--base-url", default=None, help="E-utilities base URL (or KETAQA_EUTILS_URL)"
    )
    p_fetch.add_argument(
        "--timeout", type=float, default=30.0, help="seconds a read may stall (per request)"
    )
    p_fetch.add_argument(
        "--deadline",
        type=float,
        default=300.0,
        help="seconds for the whole fetch (default 300); what was fetched is kept, "
        "run again to fetch the rest",
    )
    p_fetch.add_argument("--refresh", action="store_true", help="fetch cached ones again too")
    p_import = sub.add_parser(
        "import", help="import a PubMed XML, MEDLINE/NBIB or RIS export (file or folder)"
    )
    p_import.add_argument("path", type=Path, help="an export file, or a folder of them")
    sub.add_parser("status", help="which cited references have an abstract loaded")


def _add_sets_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sets", help="teaching sets: check the database")
    sub = parser.add_subparsers(dest="sets_command", required=True)
    sub.add_parser("check", help="run SQLite's integrity check on the teaching-set database")


def _add_bench_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure latency, memory, build time and scale beside a plain BM25 baseline",
    )
    p.add_argument("--quick", action="store_true", help="a small subset: seconds, not minutes")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/bench-<date>/)")
    p.add_argument(
        "--skip-scale", action="store_true", help="skip the synthetic 10k/100k-passage corpora"
    )
    p.add_argument("--questions", type=Path, help="question set (default eval/questions.jsonl)")


def _add_loadtest_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("loadtest", help="concurrent clients against the app on 127.0.0.1")
    p.add_argument("--url", help="a running app (default: start one in-process on a free port)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--out", type=Path, help="folder for loadtest.json (default eval/reports/)")
    p.add_argument(
        "--api",
        action="store_true",
        help="POST /api/ask with wrk instead (needs --url; --clients = open connections)",
    )


def _add_soak_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "soak",
        help="minutes of clients asking, saving and exporting while the app is killed, its "
        "database damaged and the app restarted (not part of make test)",
    )
    p.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--root", type=Path, help="work folder (default: a new temporary folder)")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from exc
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {port}")
    return port


def main(argv: list[str] | None = None) -> int:
    offline_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except InputError as exc:
        print(f"ketaqa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KetaqaError as exc:
        print(f"ketaqa: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        from ketaqa.apps.checks import describe_os_error

        print(f"ketaqa: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except (RecursionError, MemoryError) as exc:
        print(f"ketaqa: error: out of resources ({type(exc).__name__})", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("ketaqa: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    """Dispatch a parsed command; paths are checked first so a wrong folder is one line."""
    if args.command in ("index", "ask", "serve", "eval", "abstracts", "bench"):
        from ketaqa.apps.checks import check_paths

        check_paths(write_index=args.command in ("index", "serve", "bench"))
    if args.command == "index":
        return cmd_index(args)
    if args.command == "ask":
        return cmd_ask(args)
    if args.command == "serve":
        return cmd_serve(args)
    if args.command in LAZY_COMMANDS:
        module, function = LAZY_COMMANDS[args.command]
        return getattr(importlib.import_module(module), function)(args, _progress)
    return EXIT_USAGE


# The commands whose handlers take (args, progress), imported only when run, so that
# `ketaqa ask` never pays for the evaluation's, the bench's or the soak's imports.
LAZY_COMMANDS = {
    "eval": ("ketaqa.apps.eval_command", "cmd_eval"),
    "bench": ("ketaqa.apps.tool_commands", "cmd_bench"),
    "loadtest": ("ketaqa.apps.tool_commands", "cmd_loadtest"),
    "soak": ("ketaqa.apps.tool_commands", "cmd_soak"),
    "abstracts": ("ketaqa.apps.abstracts_command", "cmd_abstracts"),
    "sets": ("ketaqa.apps.checks", "cmd_sets"),
}


def cmd_index(args: argparse.Namespace) -> int:
    from ketaqa.config import Settings
    from ketaqa.pipeline.indexing.drugs import ensure_drug_table
    from ketaqa.pipeline.indexing.embedding import Encoder
    from ketaqa.pipeline.indexing.english import ensure_english_table
    from ketaqa.pipeline.indexing.fast_encoder import ensure_fast_encoder
    from ketaqa.pipeline.indexing.index import index_status, open_index

    settings = Settings.from_env()
    if not args.no_fetch:
        from ketaqa.abstracts.first_run import first_run_fetch

        first_run_fetch(settings.corpus_dir, settings.abstracts, _progress)
    status = "rebuild requested" if args.rebuild else index_status(settings)
    if status == "ok":
        _progress(f"index is up to date in {settings.index_dir}")
        _structure_report(settings.corpus_dir, settings.index_dir)
    else:  # the build prints the structure report
        _progress(f"index {status}; building")
        index = open_index(settings, Encoder(), rebuild=True, progress=_progress)
        _progress(f"{len(index.passages)} passages indexed")
    ensure_fast_encoder(settings.index_dir, _progress)
    ensure_english_table(settings.index_dir, _progress)
    ensure_drug_table(settings.index_dir, _progress)
    _keep_question_reader_vectors(settings)
    if (args.backend or settings.backend.kind) == "milvus":
        from ketaqa.pipeline.search.backends import build_milvus

        build_milvus(settings, rebuild=args.rebuild, progress=_progress)
    return 0


def _keep_question_reader_vectors(settings) -> None:
    """Encode what the question reader compares words with (the lexicon's population phrases)
    now, beside the ONNX encoder, so the first `ketaqa ask` does not."""
    from ketaqa.pipeline.answering.assistant import Assistant
    from ketaqa.pipeline.indexing.fast_encoder import load_fast_encoder

    if settings.backend.kind == "milvus":
        return  # no local index to open
    encoder = load_fast_encoder(settings.index_dir)
    if encoder is None:
        return  # questions go through torch: nothing to keep
    # the one ONNX session, not a second; and what the model's words read as (about 10 s)
    Assistant.open(settings, encoder).read_phrases(build_readings=True)


def _structure_report(corpus_dir, index_dir) -> None:
    """Per document, how much structure it parsed into: a maintainer's check after a revision,
    with a warning for each way it disagrees with what the document declares, and when it
    parses into much less than at the last good `ketaqa index`."""
    from ketaqa.pipeline.documents.library import load_corpus
    from ketaqa.pipeline.indexing.index import structure_report

    for line in structure_report(load_corpus(corpus_dir), index_dir):
        _progress(line)


def cmd_serve(args: argparse.Namespace) -> int:
    """Load (or build) the index once, then serve the app locally until interrupted."""
    from dataclasses import replace

    from ketaqa.apps.ui.app import build_app, json_api, launch
    from ketaqa.config import Settings
    from ketaqa.pipeline.answering.assistant import Assistant

    settings = Settings.from_env()
    server = replace(
        settings.server,
        host=args.host or settings.server.host,
        port=args.port or settings.server.port,
    )
    if args.workers != 1:
        from ketaqa.apps.replicas import serve_workers

        return serve_workers(server.host, server.port, args.workers, _progress)
    _progress("loading the index (it is built first if missing or stale)")
    assistant = Assistant.open_for_queries(settings, progress=_progress)
    _progress(
        f"{len(assistant.index.passages)} passages ready; serving on http://{server.host}:{server.port}"
    )
    app = build_app(assistant, assistant.settings, server.concurrency)
    launch(app, server.host, server.port, auth=server.auth, api=json_api(assistant, server))
    return 0


def read_questions(path: Path, limit: int = MAX_QUESTIONS_FILE_BYTES) -> list[str]:
    """Questions from a regular file of at most `limit` bytes (never a device or a pipe)."""
    import stat

    try:
        with path.open("rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError(f"{path} is not a regular file; give a text file of questions")
            raw = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise InputError(f"questions file not found: {path}") from exc
    except OSError as exc:
        raise InputError(f"cannot read questions file {path}: {exc.strerror}") from exc
    if len(raw) > limit:
        raise InputError(
            f"{path} is larger than {limit // 1_000_000} MB; split it into smaller files"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from exc
    questions = [line.strip() for line in text.splitlines() if line.strip()]
    if not questions:
        raise InputError(f"{path} has no questions in it")
    return questions


def cmd_ask(args: argparse.Namespace) -> int:
    from ketaqa.pipeline.answering.assistant import Assistant, validate_question, validate_top_k

    if args.file and args.question:
        raise InputError("give either a question or --file, not both")
    if not args.file and args.question is None:
        raise InputError('give a question, e.g. ketaqa ask "Which patients may benefit?"')
    if args.file and not args.json:
        raise InputError("--file writes JSON Lines; add --json")
    validate_top_k(args.top_k)
    questions = read_questions(args.file) if args.file else [args.question]
    for number, q in enumerate(questions, start=1):
        try:
            validate_question(q)
        except InputError as exc:
            where = f"line {number} of {args.file}: " if args.file else ""
            raise InputError(f"{where}{exc}") from exc

    assistant = Assistant.open_for_queries(progress=_progress)
    for q in questions:
        answer = assistant.ask(q, top_k=args.top_k)
        if args.json:
            line = json.dumps(answer.to_json(), ensure_ascii=False)
            print(json_terminal_safe(line), flush=True)
        else:
            print(terminal_safe(format_answer(answer)))
    return 0


def format_answer(answer: AnswerView) -> str:
    """Readable output: rank, section, page, citation, and the text with the highlight marked."""
    lines = [f"Q: {answer.question}", answer.sentence]
    if answer.unrecognised:
        lines.append(unrecognised_sentence(answer.unrecognised))
    for rp in answer.passages:
        p = rp.passage
        start, end = rp.highlight
        marked = f"{p.text[:start]}>>>{p.text[start:end]}<<<{p.text[end:]}"
        lines.append("")
        lines.append(f"[{rp.rank}] {p.section}  ({p.pages.label() or 'no page'})")
        lines.append(f"    {rp.citation}")
        ref = rp.reference
        if ref and (ref.doi or ref.pmid):
            ids = [f"doi:{ref.doi}" if ref.doi else "", f"PMID:{ref.pmid}" if ref.pmid else ""]
            lines.append("    " + "  ".join(i for i in ids if i))
        if ref and ref.citation_note:
            lines.append(f"    Note: {ref.citation_note}")
        lines.extend("    " + line for line in marked.splitlines())
        for f in p.footnotes:
            lines.append(f"    {f.text}")
    lines.append("")
    from ketaqa.apps.notice import NOTICE

    lines.append(NOTICE)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
