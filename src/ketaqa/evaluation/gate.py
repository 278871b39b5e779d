"""The quality gate: every reported metric against an accepted run, and question-level flips.

A baseline is either an earlier report folder (its `report.json`) or the accepted scores
(`eval/expected_scores.json` and, beside it, `eval/expected_questions.json`), which
`ketaqa eval --accept` writes from a run, so no number in them is ever typed by hand. The
integration gate test and `ketaqa eval --baseline expected` call the same `compare`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ketaqa.errors import InputError
from ketaqa.files import write_atomic

TOLERANCE = 0.02
# Error rates: a rise is a regression. Every other reported metric: a fall is.
LOWER_IS_BETTER = {
    "false_abstention_rate",
    "answerable_not_covered_rate",
    "near_miss_answered_rate",
    "verdict_ece",
}
COUNTS = {"questions", "answerable_questions", "unanswerable_questions"}
KEPT_OUTCOMES = ("hit1", "hit5", "rank", "verdict", "abstained", "highlight_ok", "citation_ok")


def lower_is_better(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in LOWER_IS_BETTER


def flatten_metrics(report: dict) -> dict[str, float]:
    """Every metric of a report under one flat name: `full/hit@1`, `bm25/mrr@10`,
    `answer/abstention_precision`, `tag/ward/false_abstention_rate`."""
    flat = {}
    for name, scores in report["retrievers"].items():
        flat.update({f"{name}/{m}": float(v) for m, v in scores.items()})
    for metric, value in report["answer"].items():
        if metric not in COUNTS:
            flat[f"answer/{metric}"] = float(value)
    for tag, row in report["by_tag"].items():
        for metric, value in row.items():
            if metric not in COUNTS:
                flat[f"tag/{tag}/{metric}"] = float(value)
    return flat


@dataclass
class Baseline:
    """Accepted metrics (flat names) and, when recorded, per-question outcomes."""

    label: str
    metrics: dict[str, float]
    tolerance: float = TOLERANCE
    split: str | None = None
    question_ids: list[str] | None = None
    questions: dict[str, dict] | None = None
    header: dict = field(default_factory=dict)


def questions_file_for(scores_file: Path) -> Path:
    """`expected_scores.json` -> `expected_questions.json`, beside it."""
    name = scores_file.name.replace("scores", "questions")
    if name == scores_file.name:
        name = scores_file.stem + "-questions.json"
    return scores_file.with_name(name)


def expected_document(report: dict) -> dict:
    """The gate file written by `--accept`: floors and ceilings from the run, in the layout
    the gate has always had (full, answer floors/ceilings, per-tag floors/ceilings)."""
    answer = {k: v for k, v in report["answer"].items() if k not in COUNTS}
    tag_floors: dict[str, dict] = {}
    tag_ceilings: dict[str, dict] = {}
    for tag, row in report["by_tag"].items():
        for metric, value in row.items():
            if metric in COUNTS:
                continue
            side = tag_ceilings if metric in LOWER_IS_BETTER else tag_floors
            side.setdefault(tag, {})[metric] = value
    header = report.get("header", {})
    return {
        "split": report["split"],
        "tolerance": TOLERANCE,
        "note": (
            "Written by `ketaqa eval --accept` from the run described in `accepted`; never "
            "edit by hand. Floors: a metric may not fall more than the tolerance below them; "
            "ceilings: an error rate may not rise more than the tolerance above them. "
            "`ketaqa eval --baseline expected` and tests/integration/test_evaluation.py "
            "hold the pipeline to every one of them."
        ),
        "accepted": {k: header.get(k) for k in ("commit", "dirty", "date", "corpus", "index")},
        "questions": report["questions"],
        "full": report["retrievers"]["full"],
        "ablations": {n: s for n, s in report["retrievers"].items() if n != "full"},
        "answer_floors": {k: v for k, v in answer.items() if k not in LOWER_IS_BETTER},
        "answer_ceilings": {k: v for k, v in answer.items() if k in LOWER_IS_BETTER},
        "tag_floors": tag_floors,
        "tag_ceilings": tag_ceilings,
    }


def accept(report: dict, scores_file: Path) -> tuple[Path, Path]:
    """Write the gate file and the per-question outcomes beside it, from this run."""
    questions_file = questions_file_for(scores_file)
    outcomes = {q["id"]: _kept(q) for q in report.get("question_outcomes", [])}
    write_atomic(scores_file, json.dumps(expected_document(report), indent=2) + "\n")
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in outcomes.items()]
    write_atomic(questions_file, "{\n" + ",\n".join(lines) + "\n}\n")  # a line per question
    return scores_file, questions_file


def _kept(record: dict) -> dict:
    return {"question": record["question"], **{k: record.get(k) for k in KEPT_OUTCOMES}}


def load_expected(scores_file: Path) -> Baseline:
    """The accepted scores, and the accepted per-question outcomes when they are beside them."""
    doc = _read_json(scores_file)
    metrics = {f"full/{m}": v for m, v in doc.get("full", {}).items()}
    for name, scores in doc.get("ablations", {}).items():
        metrics.update({f"{name}/{m}": v for m, v in scores.items()})
    for side in ("answer_floors", "answer_ceilings"):
        metrics.update({f"answer/{m}": v for m, v in doc.get(side, {}).items()})
    for side in ("tag_floors", "tag_ceilings"):
        for tag, row in doc.get(side, {}).items():
            metrics.update({f"tag/{tag}/{m}": v for m, v in row.items()})
    questions_file = questions_file_for(scores_file)
    questions = _read_json(questions_file) if questions_file.exists() else None
    return Baseline(
        label=f"expected ({scores_file.name})",
        metrics={k: float(v) for k, v in metrics.items()},
        tolerance=float(doc.get("tolerance", TOLERANCE)),
        split=doc.get("split"),
        question_ids=sorted(questions) if questions else None,
        questions=questions,
        header=doc.get("accepted") or {},
    )


def load_report_baseline(folder: Path) -> Baseline:
    """An earlier `ketaqa eval` report folder as the baseline."""
    report = _read_json(folder / "report.json" if folder.is_dir() else folder)
    outcomes = report.get("question_outcomes")
    return Baseline(
        label=f"report {folder}",
        metrics=flatten_metrics(report),
        split=report.get("split"),
        question_ids=[q["id"] for q in outcomes] if outcomes else None,
        questions={q["id"]: _kept(q) for q in outcomes} if outcomes else None,
        header=report.get("header", {}),
    )


def load_baseline(spec: str, expected_file: Path) -> Baseline:
    """`expected` means the accepted scores; anything else is a report folder."""
    if spec == "expected":
        return load_expected(expected_file)
    return load_report_baseline(Path(spec))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"baseline not found: {path}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a JSON report ({exc})") from exc
