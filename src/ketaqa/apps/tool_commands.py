"""`ketaqa bench | loadtest | soak`: turn the flags into a tool run, and write what it measured.

The measuring lives in `ketaqa.tools`; choosing defaults, starting the app for a load test and
writing the reports is the front end's part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict

from ketaqa.config import QUESTIONS_FILE, REPORTS_DIR, Settings
from ketaqa.errors import InputError
from ketaqa.files import write_atomic
from ketaqa.progress import Progress
from ketaqa.tools.net import free_port


def cmd_bench(args: argparse.Namespace, progress: Progress) -> int:
    from ketaqa.tools.bench.figures import Plan
    from ketaqa.tools.bench.run import bench_questions, run_bench, write_report

    settings = Settings.from_env()
    plan = Plan.quick() if args.quick else Plan.full()
    out = args.out or REPORTS_DIR / f"bench-{dt.date.today().isoformat()}"
    questions = bench_questions(args.questions or QUESTIONS_FILE, plan.questions)
    report = run_bench(settings, plan, questions, progress, skip_scale=args.skip_scale)
    write_report(report, out, progress)
    return 0


def cmd_loadtest(args: argparse.Namespace, progress: Progress) -> int:
    """Load the app given by --url, or one started here on a free loopback port."""
    from ketaqa.evaluation.dataset import load_questions
    from ketaqa.pipeline.answering.assistant import Assistant
    from ketaqa.tools.loadtest import run_load

    if not 1 <= args.clients <= 64 or not 1 <= args.seconds <= 600:
        raise InputError("--clients must be 1-64 and --seconds 1-600")
    questions = [i.question for i in load_questions()]
    if args.api:
        return _api_load(args, questions, progress)
    app = None
    url = args.url
    if url is None:
        from ketaqa.apps.ui import app as ui

        assistant = Assistant.open_for_queries(progress=progress)
        app = ui.build_app(assistant, assistant.settings)
        port = free_port()
        ui.launch(app, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
        url = f"http://127.0.0.1:{port}/"
    try:
        progress(f"{args.clients} clients asking {url} for {args.seconds:.0f} s")
        result = run_load(url, questions, args.clients, args.seconds)
    finally:
        if app is not None:
            app.close()
    out = args.out or REPORTS_DIR / f"loadtest-{dt.date.today().isoformat()}"
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "loadtest.json", json.dumps(asdict(result), indent=2))
    print(json.dumps(asdict(result), indent=2))
    return 0 if result.errors == 0 else 1


def cmd_soak(args: argparse.Namespace, progress: Progress) -> int:
    """Run the soak (it starts and kills its own app) and print what it found; exit 1 when an
    acknowledged save was lost or doubled, or the temporary folders grew without bound."""
    from ketaqa.tools.soak import passed, run_soak

    if not 1 <= args.clients <= 64 or not 0 < args.minutes <= 24 * 60:
        raise InputError("--clients must be 1-64 and --minutes more than 0, at most 1440")
    progress(f"soak: {args.clients} clients for {args.minutes:g} min (the app is restarted)")
    result = run_soak(args.minutes, args.clients, args.root)
    print(json.dumps(asdict(result), indent=2))
    return 0 if passed(result) else 1


def _api_load(args: argparse.Namespace, questions: list[str], progress: Progress) -> int:
    """wrk against a running server's /api/ask (`ketaqa serve` or uvicorn)."""
    from ketaqa.tools.httpload import run_wrk

    if args.url is None:
        raise InputError("--api needs --url of a running app, e.g. http://127.0.0.1:7860/")
    url = args.url.rstrip("/") + "/api/ask"
    progress(f"wrk: {args.clients} connections POSTing {url} for {args.seconds:.0f} s")
    result = run_wrk(url, questions, args.clients, args.seconds)
    out = args.out or REPORTS_DIR / f"loadtest-{dt.date.today().isoformat()}"
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / f"api-loadtest-c{args.clients}.json", json.dumps(asdict(result), indent=2))
    print(json.dumps(asdict(result), indent=2))
    return 0 if result.errors == 0 else 1
