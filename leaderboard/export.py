"""`harness export`: the leaderboard table as CSV, JSON, Markdown or LaTeX.

The comparability rule holds in every format: only rows whose protocol matches the benchmark are ranked and can
carry a column's best value (bold in Markdown and LaTeX); the others follow in a separate "protocol differs"
table naming what differs (Markdown, LaTeX) or carry `comparable` false, no `rank` and `protocol_differs` (CSV,
JSON).

No cell can execute where the file is opened: CSV text cells that a spreadsheet would read as a formula are
prefixed with a quote (OWASP's CSV-injection guidance), every LaTeX cell is escaped (bold goes around the
escaped text), and Markdown cells have HTML, link, emphasis and table syntax escaped and newlines folded."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pandas as pd

FORMATS: tuple[str, ...] = ("csv", "json", "markdown", "latex")
# Columns the typeset formats show; CSV and JSON carry every column.
TYPESET_INFO: tuple[str, ...] = ("method", "source", "supervision", "input_2d", "data")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]()|~])")  # emphasis, code, links and images, table cells
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a leaderboard table (their names end in the better direction's arrow)."""
    return [c for c in frame.columns if c.endswith(("↑", "↓"))]


def split_by_protocol(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows ranked on the benchmark, rows whose protocol differs); a table without a `comparable` column is all ranked."""
    if "comparable" not in frame:
        return frame, frame.iloc[0:0]
    ranked = frame["comparable"].astype(bool)
    return frame[ranked], frame[~ranked]


def best_values(frame: pd.DataFrame) -> dict[str, float | None]:
    """The best value of each metric column over the comparable rows only (None where they have none)."""
    ranked, _ = split_by_protocol(frame)
    best = {}
    for column in metric_columns(frame):
        values = ranked[column].dropna()
        best[column] = None if values.empty else float(values.max() if column.endswith("↑") else values.min())
    return best


def _cells(frame: pd.DataFrame, escape: Callable[[str], str], bold: Callable[[str], str], best: dict[str, float | None], extra: tuple[str, ...] = ()) -> tuple[list[str], list[list[str]]]:
    """The typeset header and rows, every text escaped by `escape` and the values equal to `best` passed to `bold`."""
    metrics = metric_columns(frame)
    header = [escape(h) for h in (*TYPESET_INFO, *metrics, *extra)]
    rows = []
    for _, row in frame.iterrows():
        cells = [escape(row[c]) if isinstance(row[c], str) else "" for c in TYPESET_INFO]
        for c in metrics:
            v = row[c]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append("-")
            else:
                text = f"{v:.1f}"
                cells.append(bold(text) if best[c] is not None and v == best[c] else text)
        cells += [escape(row[c]) if isinstance(row[c], str) else "" for c in extra]
        rows.append(cells)
    return header, rows


def _sections(frame: pd.DataFrame, escape: Callable[[str], str], bold: Callable[[str], str]) -> list[tuple[list[str], list[list[str]]]]:
    """The ranked table (best values bold), then, if any, the protocol-differs table: never bold, with a column
    naming what differs."""
    ranked, apart = split_by_protocol(frame)
    sections = [_cells(ranked, escape, bold, best_values(frame))]
    if not apart.empty:
        sections.append(_cells(apart, escape, bold, dict.fromkeys(metric_columns(frame)), ("protocol_differs",)))
    return sections


def markdown_escape(text: str) -> str:
    """Plain text as Markdown that renders as that text: HTML as entities, Markdown syntax backslash-escaped,
    line breaks folded into spaces."""
    text = " ".join(text.splitlines())
    text = "".join(_HTML.get(ch, ch) for ch in text)
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


PROTOCOL_DIFFERS_TITLE = "Protocol differs or not fully known (not ranked, never the best value)"


def to_markdown(frame: pd.DataFrame) -> str:
    parts = []
    for k, (header, rows) in enumerate(_sections(frame, markdown_escape, lambda t: f"**{t}**")):
        lines = [f"\n{PROTOCOL_DIFFERS_TITLE}:\n"] if k else []
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        parts.append("\n".join(lines))
    return "\n".join(parts) + "\n"


def _latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in " ".join(text.splitlines()))
    return out.replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")


def to_latex(frame: pd.DataFrame) -> str:
    lines = []
    for k, (header, rows) in enumerate(_sections(frame, _latex_escape, lambda t: rf"\textbf{{{t}}}")):
        n_metrics = len(header) - len(TYPESET_INFO) - k  # the protocol-differs table has one text column more
        spec = "l" * len(TYPESET_INFO) + "r" * n_metrics + "p{6cm}" * k
        if k:
            lines.append(rf"\par\medskip\noindent {_latex_escape(PROTOCOL_DIFFERS_TITLE)}:\par")
        lines += [rf"\begin{{tabular}}{{{spec}}}", r"\hline", " & ".join(header) + r" \\", r"\hline"]
        lines += [" & ".join(row) + r" \\" for row in rows]
        lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_csv(frame: pd.DataFrame) -> str:
    """CSV (RFC 4180: CRLF line ends, so a cell holding a line break is quoted) whose text cells never start a
    spreadsheet formula: a cell beginning with =, +, -, @, tab or CR gets a leading quote. Numbers stay numbers."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
    return safe.to_csv(index=False, lineterminator="\r\n")


def export(frame: pd.DataFrame, fmt: str) -> str:
    """The table in `fmt` (one of FORMATS)."""
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "json":
        return frame.to_json(orient="records", indent=1, force_ascii=False) + "\n"
    if fmt == "markdown":
        return to_markdown(frame)
    return to_latex(frame)
