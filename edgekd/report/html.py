"""report.html: one self-contained page (inline SVG plots, no external files) people read.

Plots: latency per model and format on each measured target (p50 bar, p90 and p99 ticks), accuracy
against latency with the Pareto front, file sizes, speedup and Δ accuracy against the teacher, and the
emulated aarch64 cost in instructions per inference.
"""

from __future__ import annotations

import html
import io
import json
from typing import Any

from edgekd.report.render import COLUMNS, cell, status_cell, summary_lines

TEACHER, STUDENT = "#8c6d31", "#3182bd"


def render_html(report: dict[str, Any]) -> str:
    rows = report["rows"]
    timed = [r for r in rows if r["status"] == "ok" and r.get("latency_ms_p50")]
    # The plots compare models at one batch size, the smallest measured; the table has them all.
    batch = min((r.get("batch_size") or 1 for r in timed), default=1)
    timed = [r for r in timed if (r.get("batch_size") or 1) == batch]
    emulated = [r for r in rows if r["status"] == "ok" and r.get("instructions_per_inference")]
    versus_teacher = [r for r in timed if r["model"] != "teacher" and r.get("speedup_vs_teacher")]
    scored = [r for r in timed if r.get("accuracy") is not None]  # `edgekd bench` on random inputs has none
    figures = []
    if timed:
        figures.append((f"Latency (batch {batch}, ms; bar = p50, ticks = p90 and p99)", _latency_plot(timed)))
    if scored:
        figures.append(("Accuracy vs latency, with the Pareto front", _pareto_plot(scored)))
    if timed:
        figures.append(("File size", _size_plot(timed)))
    if versus_teacher:
        figures.append(("Against the teacher (same format, same target)", _versus_teacher_plot(versus_teacher)))
    if emulated:
        figures.append(("Emulated aarch64: instructions per inference (a cost figure, not a latency)",
                        _instructions_plot(emulated)))
    body = [f"<h1>edgekd report: {html.escape(report['pipeline'])}</h1>"]
    if report.get("summary"):
        body.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(report)) + "</ul>")
    for title, svg in figures:
        body.append(f'<figure><figcaption>{html.escape(title)}</figcaption>{svg}</figure>')
    body.append("<h2>Models</h2>" + _table(rows))
    if report.get("kd_vs_ce") and "ce" in report["kd_vs_ce"]:
        body.append(_kd_table(report["kd_vs_ce"]))
    body.append("<h2>Environment</h2><pre>" + html.escape(json.dumps(report.get("environment", {}), indent=2)) + "</pre>")
    return _PAGE.format(title=html.escape(report["pipeline"]), body="\n".join(body))


def _label(row: dict[str, Any]) -> str:
    return f"{row['model']} {row['format']} · {row['target']}"


def _colour(row: dict[str, Any]) -> str:
    return TEACHER if row["model"] == "teacher" else STUDENT


def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog: the SVG is inline


def _figure(height_rows: int = 0, width: float = 8.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, max(2.5, 0.32 * height_rows + 1.0)))


def _latency_plot(rows: list[dict[str, Any]]) -> str:
    figure, axes = _figure(len(rows))
    labels = [_label(r) for r in rows]
    positions = range(len(rows))
    axes.barh(positions, [r["latency_ms_p50"] for r in rows], color=[_colour(r) for r in rows])
    axes.scatter([r["latency_ms_p90"] for r in rows], positions, marker="|", color="black", s=80, label="p90")
    axes.scatter([r.get("latency_ms_p99") or r["latency_ms_p90"] for r in rows], positions, marker="|",
                 color="red", s=80, label="p99")
    axes.set_yticks(list(positions), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("ms (log scale)")
    axes.legend(loc="lower right", fontsize=8)
    return _svg(figure)


def _pareto_plot(rows: list[dict[str, Any]]) -> str:
    figure, axes = _figure(12)
    for row in rows:
        axes.scatter(row["latency_ms_p50"], 100 * row["accuracy"], color=_colour(row), s=30)
        axes.annotate(f"{row['model'][0]}:{row['format']}", (row["latency_ms_p50"], 100 * row["accuracy"]),
                      fontsize=6, xytext=(3, 2), textcoords="offset points")
    front = pareto_front(rows)
    axes.step([r["latency_ms_p50"] for r in front], [100 * r["accuracy"] for r in front], where="post",
              color="green", label="Pareto front")
    axes.set_xscale("log")
    axes.set_xlabel("p50 latency, ms (log scale)")
    axes.set_ylabel("test accuracy, %")
    axes.legend(fontsize=8)
    return _svg(figure)


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows no other row beats on both latency (lower) and accuracy (higher), fastest first."""
    front, best = [], -1.0
    for row in sorted(rows, key=lambda r: (r["latency_ms_p50"], -r["accuracy"])):
        if row["accuracy"] > best:
            front.append(row)
            best = row["accuracy"]
    return front


def _size_plot(rows: list[dict[str, Any]]) -> str:
    seen, unique = set(), []
    for row in rows:  # a file's size does not depend on the target that ran it
        if (row["model"], row["format"]) not in seen:
            seen.add((row["model"], row["format"]))
            unique.append(row)
    figure, axes = _figure(len(unique))
    axes.barh(range(len(unique)), [r["size_bytes"] / 1024 for r in unique], color=[_colour(r) for r in unique])
    axes.set_yticks(range(len(unique)), [f"{r['model']} {r['format']}" for r in unique], fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("KB (log scale)")
    return _svg(figure)


def _versus_teacher_plot(rows: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    students = rows
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, max(2.5, 0.32 * len(students) + 1.0)), sharey=True)
    positions = range(len(students))
    left.barh(positions, [r["speedup_vs_teacher"] for r in students], color=STUDENT)
    left.axvline(1.0, color="grey", linewidth=0.8)
    left.set_xlabel("speedup vs teacher (×)")
    left.set_yticks(list(positions), [_label(r) for r in students], fontsize=8)
    left.invert_yaxis()
    deltas = [r.get("delta_accuracy_pt") or 0.0 for r in students]
    right.barh(positions, deltas, color=["#d62728" if d < 0 else "#2ca02c" for d in deltas])
    right.axvline(0.0, color="grey", linewidth=0.8)
    right.set_xlabel("Δ accuracy vs teacher (pt)")
    return _svg(figure)


def _instructions_plot(rows: list[dict[str, Any]]) -> str:
    figure, axes = _figure(len(rows))
    axes.barh(range(len(rows)), [r["instructions_per_inference"] / 1e6 for r in rows], color=[_colour(r) for r in rows])
    axes.set_yticks(range(len(rows)), [_label(r) for r in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("million emulated AArch64 instructions per inference")
    return _svg(figure)


def _table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in COLUMNS)
    lines = []
    for row in rows:
        cells = [cell(row.get(key), fmt) for key, _, fmt in COLUMNS[:-1]] + [status_cell(row)]
        css = "" if row["status"] == "ok" else f' class="{html.escape(row["status"])}"'
        lines.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _kd_table(kd: dict[str, Any]) -> str:
    lines = [f"<h2>Does distillation help?</h2><p>Same student, same {kd['epochs']} epochs, seeds "
             f"{html.escape(str(kd['kd']['seeds']))}.</p><table><tr><th>training</th><th>mean %</th><th>std</th></tr>"]
    for method, label in (("kd", "Hinton KD from cached teacher logits"), ("ce", "cross-entropy only")):
        lines.append(f"<tr><td>{label}</td><td>{100 * kd[method]['mean']:.2f}</td><td>{100 * kd[method]['std']:.2f}</td></tr>")
    return "".join(lines) + "</table>"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgekd report: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
figure {{ margin: 1.5em 0; }} figcaption {{ font-weight: 600; margin-bottom: .3em; }}
table {{ border-collapse: collapse; font-size: 12px; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; }}
tr.failed td {{ background: #fde0e0; }} tr.skipped td {{ background: #fff5d6; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
{body}
</body></html>
"""
