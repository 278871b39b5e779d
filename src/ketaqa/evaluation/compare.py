"""A run set against a baseline: deltas of every metric, regressions, question-level flips.

Flips are paired: the same question, fixed (wrong before, right now) or broken (right before,
wrong now), on hit@1 and on the verdict. An exact McNemar test (a binomial test on the flips)
says whether the flips lean one way more than chance would, and a paired bootstrap gives a
95 % interval for the change in hit@1.
"""

from __future__ import annotations

from ketaqa.errors import InputError
from ketaqa.evaluation.gate import Baseline, flatten_metrics, lower_is_better

BOOTSTRAP_SAMPLES = 2000


def compare(report: dict, baseline: Baseline) -> dict:
    """Deltas of every baseline metric, the ones beyond tolerance, and the flips."""
    _check_same_questions(report, baseline)
    current = flatten_metrics(report)
    deltas, regressions = [], []
    for key in sorted(baseline.metrics):
        before = baseline.metrics[key]
        now = current.get(key)
        row = {
            "metric": key,
            "baseline": before,
            "current": now,
            "delta": None if now is None else round(now - before, 4),
            "direction": "lower is better" if lower_is_better(key) else "higher is better",
        }
        row["regressed"] = _regressed(key, before, now, baseline.tolerance)
        deltas.append(row)
        if row["regressed"]:
            regressions.append(key)
    return {
        "baseline": baseline.label,
        "baseline_header": baseline.header,
        "tolerance": baseline.tolerance,
        "deltas": deltas,
        "regressions": regressions,
        "new_metrics": sorted(set(current) - set(baseline.metrics)),
        "flips": flips(report.get("question_outcomes") or [], baseline.questions),
    }


def _regressed(key: str, before: float, now: float | None, tolerance: float) -> bool:
    if now is None:
        return True  # a gated metric the run no longer reports
    if lower_is_better(key):
        return now > before + tolerance + 1e-9
    return now < before - tolerance - 1e-9


def _check_same_questions(report: dict, baseline: Baseline) -> None:
    """Scores of different question sets are not comparable: say so instead of a delta."""
    if baseline.split and baseline.split != report["split"]:
        raise InputError(
            f"the baseline is of split {baseline.split!r}, this run of {report['split']!r}; "
            "run with the same --split"
        )
    ids = [q["id"] for q in report.get("question_outcomes") or []]
    if baseline.question_ids is not None and ids and sorted(ids) != sorted(baseline.question_ids):
        raise InputError(
            f"the baseline scored {len(baseline.question_ids)} other questions than this run's "
            f"{len(ids)}; run with the same --split, --limit and --questions"
        )


def _verdict_ok(record: dict) -> bool:
    return record["abstained"] != record["answerable"]


def flips(records: list[dict], before: dict[str, dict] | None) -> dict:
    """Questions fixed and broken since the baseline, with the paired tests."""
    if not before:
        return {"available": False}
    fixed, broken = [], []
    pairs: dict[str, list[tuple[bool, bool]]] = {o: [] for o in FLIP_NAMES}
    for record in records:
        old = before.get(record["id"])
        if old is None:
            continue
        old = {**old, "answerable": record["answerable"]}
        for outcome, read in FLIP_NAMES.items():
            was, now = read(old), read(record)
            if was is None or now is None:
                continue
            pairs[outcome].append((bool(was), bool(now)))
            if was != now:
                entry = {"id": record["id"], "question": record["question"], "on": outcome}
                entry["rank"] = f"{old.get('rank')} -> {record['rank']}"
                entry["verdict"] = f"{old.get('verdict')} -> {record['verdict']}"
                (fixed if now else broken).append(entry)
    return {
        "available": True,
        "fixed": fixed,
        "broken": broken,
        "tests": {outcome: paired_test(p) for outcome, p in pairs.items() if p},
    }


FLIP_NAMES = {
    "hit@1": lambda r: r.get("hit1"),
    "verdict": lambda r: _verdict_ok(r) if r.get("abstained") is not None else None,
}


def paired_test(pairs: list[tuple[bool, bool]]) -> dict:
    """Exact McNemar p-value over the discordant pairs, and a bootstrap 95 % interval for the
    change in the share right (seeded, so a report is reproducible)."""
    import numpy as np
    from scipy.stats import binomtest

    fixed = sum(1 for was, now in pairs if now and not was)
    broken = sum(1 for was, now in pairs if was and not now)
    p_value = binomtest(fixed, fixed + broken, 0.5).pvalue if fixed + broken else 1.0
    diffs = np.array([int(now) - int(was) for was, now in pairs], dtype=float)
    rng = np.random.default_rng(0)
    means = diffs[rng.integers(0, len(diffs), (BOOTSTRAP_SAMPLES, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "n": len(pairs),
        "fixed": fixed,
        "broken": broken,
        "delta": round(float(diffs.mean()), 4),
        "ci95": [round(float(low), 4), round(float(high), 4)],
        "mcnemar_p": round(float(p_value), 4),
    }


def comparison_lines(comparison: dict, limit: int = 20) -> list[str]:
    """A short plain-text summary for the terminal: regressions first, then the flips."""
    lines = [f"against {comparison['baseline']} (tolerance {comparison['tolerance']}):"]
    if comparison["regressions"]:
        rows = {r["metric"]: r for r in comparison["deltas"]}
        lines.append(f"REGRESSED ({len(comparison['regressions'])}):")
        for key in comparison["regressions"]:
            row = rows[key]
            now = "missing" if row["current"] is None else f"{row['current']:.4f}"
            lines.append(f"  {key}: {row['baseline']:.4f} -> {now} ({row['direction']})")
    else:
        lines.append(f"no gated metric regressed ({len(comparison['deltas'])} checked)")
    flip = comparison["flips"]
    if not flip.get("available"):
        lines.append("per-question flips: the baseline records no per-question outcomes")
        return lines
    for side in ("broken", "fixed"):
        lines.append(f"{side} questions: {len(flip[side])}")
        for entry in flip[side][:limit]:
            lines.append(
                f"  {entry['id']} [{entry['on']}] rank {entry['rank']}, verdict "
                f"{entry['verdict']}: {entry['question']}"
            )
        if len(flip[side]) > limit:
            lines.append(f"  … and {len(flip[side]) - limit} more (report.md)")
    for outcome, test in flip["tests"].items():
        lines.append(
            f"{outcome}: {test['fixed']} fixed, {test['broken']} broken of {test['n']}; change "
            f"{test['delta']:+.4f} (95 % CI {test['ci95'][0]:+.4f} to {test['ci95'][1]:+.4f}), "
            f"McNemar p = {test['mcnemar_p']}"
        )
    return lines
