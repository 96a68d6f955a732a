"""`harness export`: the leaderboard table as CSV, JSON, Markdown or LaTeX (best value per column in bold).

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


def _best(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna()
    if values.empty:
        return None
    return float(values.max() if column.endswith("↑") else values.min())


def _cells(frame: pd.DataFrame, escape: Callable[[str], str], bold: Callable[[str], str]) -> tuple[list[str], list[list[str]]]:
    """The typeset header and rows, every text escaped by `escape` and the best value per column passed to `bold`."""
    metrics = metric_columns(frame)
    header = [escape(h) for h in (*TYPESET_INFO, *metrics)]
    best = {c: _best(frame, c) for c in metrics}
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
        rows.append(cells)
    return header, rows


def markdown_escape(text: str) -> str:
    """Plain text as Markdown that renders as that text: HTML as entities, Markdown syntax backslash-escaped,
    line breaks folded into spaces."""
    text = " ".join(text.splitlines())
    text = "".join(_HTML.get(ch, ch) for ch in text)
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def to_markdown(frame: pd.DataFrame) -> str:
    header, rows = _cells(frame, markdown_escape, lambda t: f"**{t}**")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in " ".join(text.splitlines()))
    return out.replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")


def to_latex(frame: pd.DataFrame) -> str:
    header, rows = _cells(frame, _latex_escape, lambda t: rf"\textbf{{{t}}}")
    spec = "l" * len(TYPESET_INFO) + "r" * (len(header) - len(TYPESET_INFO))
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\hline", " & ".join(header) + r" \\", r"\hline"]
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
