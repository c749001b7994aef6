"""A comparison report as text: the terminal table, Markdown, JSON, or HTML with an inline SVG chart.

The chart is the headline: request bytes and input tokens sent per turn, Responses against Chat. With server
state the Responses line stays flat (only the new message goes out); Chat resends the whole history, so its line
grows with every turn. Plain SVG, no JavaScript. The Markdown and HTML reports also show both answers of every
turn beside its similarity, so a score can be checked by reading what it compares (the JSON report has them as
each turn's `text`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from assistant.compare import BACKENDS, ComparisonReport, ConversationResult, Totals, TurnMetrics
from assistant.pricing import estimate_label, estimate_model
from assistant.private_files import write_private_file

COLOURS = {"responses": "#1f77b4", "chat": "#d62728"}
_COLUMNS = ("bytes", "input", "cached", "output", "ttft ms", "latency ms", "cost $", "tools")


def _pair(turn_r: TurnMetrics | Totals, turn_c: TurnMetrics | Totals) -> list[str]:
    def cells(metrics: TurnMetrics | Totals) -> list[str]:
        ttft = metrics.ttft_ms if isinstance(metrics, TurnMetrics) else metrics.mean_ttft_ms
        return [
            f"{metrics.request_bytes:,}",
            f"{metrics.input_tokens:,}",
            f"{metrics.cached_tokens:,}",
            f"{metrics.output_tokens:,}",
            _ms(ttft),
            _ms(metrics.latency_ms),
            _cost(metrics.cost_usd),
            str(metrics.tool_calls),
        ]

    return [f"{r} / {c}" for r, c in zip(cells(turn_r), cells(turn_c), strict=True)]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _cost(value: float | None) -> str:
    return "?" if value is None else f"{value:.6f}"


def _estimate(totals: Totals, model: str) -> str:
    """For local turns (which cost $0): " (local, ≈ $0.000075 at gpt-4.1-mini prices)"."""
    if totals.estimate_usd is None:
        return ""
    return f" (local, {estimate_label(totals.estimate_usd, estimate_model(model))})"


def _similarity(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _rows(result: ConversationResult) -> list[list[str]]:
    responses, chat = result.runs["responses"], result.runs["chat"]
    rows = [
        [str(r.turn), *_pair(r, c), _similarity(score)]
        for r, c, score in zip(responses.turns, chat.turns, result.similarity, strict=True)
    ]
    rows.append(["total", *_pair(responses.totals, chat.totals), _similarity(result.mean_similarity)])
    return rows


def table(report: ComparisonReport) -> str:
    """The terminal table: one block per conversation, each cell "responses / chat"."""
    header = ["turn", *_COLUMNS, "similar"]
    out = [f"model {report.model}; each cell: responses / chat (ttft in the total row is the mean)"]
    for result in report.conversations:
        rows = [header, *_rows(result)]
        widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
        out.append("")
        out.append(
            f"{result.conversation.name}  (threads {result.runs['responses'].thread_id} / "
            f"{result.runs['chat'].thread_id})"
        )
        for number, row in enumerate(rows):
            out.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
            if number == 0 or number == len(rows) - 2:
                out.append("  ".join("-" * width for width in widths))
    out.append("")
    out += _summary(report)
    return "\n".join(out)


def _summary(report: ComparisonReport) -> list[str]:
    lines = []
    for backend in BACKENDS:
        totals = report.totals(backend)
        turns = f"{totals.turns} turn{'' if totals.turns == 1 else 's'}"
        lines.append(
            f"{backend:>9}: {turns}, {totals.request_bytes:,} bytes sent, "
            f"{totals.input_tokens:,} input tokens ({totals.cached_tokens:,} cached), "
            f"{totals.output_tokens:,} output, cost {_cost(totals.cost_usd)}"
            f"{_estimate(totals, report.model)}, {totals.tool_calls} tool calls"
        )
    for skip in report.skipped:
        where = f"line {skip.line}" if skip.line else (skip.name or "input")
        lines.append(f"skipped {where}: {skip.reason}")
    return lines


def _answer_of(turn: TurnMetrics) -> str:
    """A turn's answer as the report shows it: the text, and how the turn ended when it did not complete."""
    ending = "" if turn.status == "completed" else f"[{turn.status}{f': {turn.error}' if turn.error else ''}]"
    return "\n".join(part for part in (turn.text, ending) if part) or "(no answer)"


def _answers(result: ConversationResult) -> list[tuple[int, str, TurnMetrics, TurnMetrics, float]]:
    """(turn, user message, Responses turn, Chat turn, similarity) for every turn of a conversation."""
    responses, chat = result.runs["responses"], result.runs["chat"]
    return [
        (r.turn, r.user, r, c, score)
        for r, c, score in zip(responses.turns, chat.turns, result.similarity, strict=True)
    ]


def _quoted(text: str) -> str:
    """Markdown block quote: keeps a multi-line answer (headings, lists) inside the report's layout."""
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines() or [""])


def _markdown_answers(result: ConversationResult) -> list[str]:
    out = ["### Answers", ""]
    for number, user, responses, chat, score in _answers(result):
        out += [
            f"**Turn {number}**, similarity {_similarity(score)}",
            "",
            "You:",
            "",
            _quoted(user),
            "",
            "Responses:",
            "",
            _quoted(_answer_of(responses)),
            "",
            "Chat:",
            "",
            _quoted(_answer_of(chat)),
            "",
        ]
    return out


def markdown(report: ComparisonReport) -> str:
    out = [
        "# Responses vs Chat Completions",
        "",
        f"Model `{report.model}`, run `{report.run_id}`{f', from `{report.source}`' if report.source else ''}. "
        "Each cell: Responses / Chat.",
        "",
    ]
    header = ["turn", *_COLUMNS, "similarity"]
    for result in report.conversations:
        out += [f"## {result.conversation.name}", "", "| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in _rows(result)]
        out.append("")
        out += _markdown_answers(result)
    out += ["## Totals", ""] + [f"- {line.strip()}" for line in _summary(report)]
    return "\n".join(out) + "\n"


def to_json(report: ComparisonReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def chart(result: ConversationResult, metric: str, title: str, width: int = 560, height: int = 260) -> str:
    """An SVG line chart of `metric` (request_bytes or input_tokens) per turn, one line per backend."""
    left, right, top, bottom = 70, 20, 30, 40
    series = {backend: [getattr(turn, metric) for turn in result.runs[backend].turns] for backend in BACKENDS}
    turns = max(len(values) for values in series.values())
    peak = max([1, *(value for values in series.values() for value in values)])
    plot_w, plot_h = width - left - right, height - top - bottom

    def point(index: int, value: float) -> str:
        x = left + (plot_w * index / (turns - 1) if turns > 1 else plot_w / 2)
        y = top + plot_h - plot_h * value / peak
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}" class="chart" data-metric="{metric}">',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 6}" y="{top + 4}" font-size="11" text-anchor="end">{peak:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>',
        f'<text x="{left + plot_w / 2}" y="{height - 8}" font-size="11" text-anchor="middle">turn (1..{turns})</text>',
    ]
    for number, (backend, values) in enumerate(series.items()):
        points = " ".join(point(index, value) for index, value in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{COLOURS[backend]}" stroke-width="2" points="{points}" '
            f'data-backend="{backend}"/>'
        )
        parts.append(
            f'<text x="{left + 10 + number * 110}" y="{top + 14}" font-size="12" '
            f'fill="{COLOURS[backend]}">— {backend}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _html_answers(result: ConversationResult) -> str:
    header = "".join(f"<th>{name}</th>" for name in ("turn", "you", "Responses", "Chat", "similarity"))
    rows = "".join(
        f"<tr><td>{number}</td><td>{html.escape(user)}</td><td>{html.escape(_answer_of(responses))}</td>"
        f"<td>{html.escape(_answer_of(chat))}</td><td>{_similarity(score)}</td></tr>"
        for number, user, responses, chat, score in _answers(result)
    )
    return f'<h3>Answers</h3><table class="answers"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'


def to_html(report: ComparisonReport) -> str:
    sections = []
    for result in report.conversations:
        header = "".join(f"<th>{html.escape(name)}</th>" for name in ("turn", *_COLUMNS, "similarity"))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in _rows(result)
        )
        sections.append(
            f"<section><h2>{html.escape(result.conversation.name)}</h2>"
            f'<div class="charts">{chart(result, "request_bytes", "Request bytes sent per turn")}'
            f"{chart(result, 'input_tokens', 'Input tokens per turn')}</div>"
            f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
            f"{_html_answers(result)}</section>"
        )
    summary = "".join(f"<li>{html.escape(line.strip())}</li>" for line in _summary(report))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Responses vs Chat Completions</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
table.answers td {{ text-align: left; vertical-align: top; white-space: pre-wrap; max-width: 40em; }}
.charts svg {{ margin-right: 1em; }}
</style></head>
<body>
<h1>Responses vs Chat Completions</h1>
<p>Model <code>{html.escape(report.model)}</code>, run <code>{html.escape(report.run_id)}</code>. Each cell:
Responses / Chat. Responses keeps the conversation on the server and sends only the new message; Chat sends the
whole history every turn.</p>
<ul>{summary}</ul>
{"".join(sections)}
</body></html>
"""


def write_report(report: ComparisonReport, path: str | Path) -> None:
    """Write the report in the format its suffix names: .md, .json or .html."""
    path = Path(path)
    renderers = {".md": markdown, ".json": to_json, ".html": to_html, ".htm": to_html}
    renderer = renderers.get(path.suffix.lower())
    if renderer is None:
        raise ValueError(f"cannot write a {path.suffix or 'suffix-less'} report: name it .md, .json or .html")
    write_private_file(path, renderer(report).encode("utf-8"))
