"""bench.md: every section as a table of figures (ketaqa, baseline, ratio, note)."""

from __future__ import annotations

import json


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "–"
    if unit == "bytes":
        return f"{x / 1e6:.2f} MB" if x >= 1e5 else f"{x / 1e3:.1f} kB"
    if unit == "fraction":
        return f"{x:.3f}"
    if abs(x) >= 100:
        return f"{x:,.0f} {unit}".strip()
    if abs(x) >= 1:
        return f"{x:.2f} {unit}".strip()
    return f"{x:.3g} {unit}".strip()


def _rows(section: dict, prefix: str = "") -> list[str]:
    lines = []
    for key, value in section.items():
        if isinstance(value, dict) and "ratio" in value:
            unit = value["unit"]
            ratio = "–" if value["ratio"] is None else f"{value['ratio']:.3g}×"
            lines.append(
                f"| {prefix}{key} | {_fmt(value['value'], unit)} | "
                f"{_fmt(value['baseline'], unit)} | {ratio} | {value['note']} |"
            )
        elif isinstance(value, dict):
            lines.extend(_rows(value, prefix=f"{prefix}{key}."))
    return lines


HEADER = ["| measure | ketaqa | baseline | ratio | note |", "| --- | ---: | ---: | ---: | --- |"]


def render_markdown(report: dict) -> str:
    """The whole report as Markdown, section by section, in the order a reader wants them."""
    meta = report["meta"]
    lines = [
        f"# ketaqa bench — {meta['date']} ({meta['plan']['name']})",
        "",
        f"Baseline: {meta['baseline']}, measured in the same run; ratio = ketaqa / baseline.",
        f"Machine: {meta['cpus']} CPUs ({meta['machine']}), Python {meta['python']}; load "
        f"average {_load(meta['load_average_start'])} at the start, "
        f"{_load(meta.get('load_average_end'))} at the end. "
        f"Query encoder: {meta.get('query_encoder')}. Index: {meta.get('passages')} passages.",
        "",
    ]
    titles = {
        "warm_query": "Warm queries (in process)",
        "cold_ask": "Cold `ketaqa ask` (new process)",
        "build": "Index build",
        "memory": "Peak memory",
    }
    for key, title in titles.items():
        section = report.get(key, {})
        lines += [f"## {title}", ""]
        context = [
            f"{k}: {json.dumps(v) if isinstance(v, dict) else v}"
            for k, v in section.items()
            if not isinstance(v, dict)
            or ("ratio" not in v and not any(isinstance(x, dict) for x in v.values()))
        ]
        if context:
            lines += ["; ".join(context), ""]
        lines += [*HEADER, *_rows(section), ""]
    scale = report.get("scale", {})
    lines += ["## Scale (synthetic corpora)", ""]
    if scale.get("skipped"):
        lines += ["Skipped (--skip-scale).", ""]
    else:
        lines += [
            f"Passages recombine {scale['sentences']} real sentences (seed {scale['seed']}); "
            f"vectors: {scale['vectors']}; tokens: {scale['tokens']}. Approximate index: "
            f"{scale['ann']['kind']}, from {scale['ann']['min_passages']:,} passages up.",
            "",
            *HEADER,
            *_rows({"tokenise_sentence": scale["tokenise_sentence"]}),
        ]
        for row in scale["sizes"]:
            n = row["passages"]
            lines += _rows({k: v for k, v in row.items() if k != "passages"}, f"{n:,} · ")
        lines.append("")
    return "\n".join(lines)


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"
