"""`harness export`: the leaderboard table as CSV, JSON, Markdown or LaTeX (best value per column in bold)."""

from __future__ import annotations

import math

import pandas as pd

FORMATS: tuple[str, ...] = ("csv", "json", "markdown", "latex")
# Columns the typeset formats show; CSV and JSON carry every column.
TYPESET_INFO: tuple[str, ...] = ("method", "source", "supervision", "input_2d", "data")
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith(("↑", "↓"))]


def _best(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna()
    if values.empty:
        return None
    return float(values.max() if column.endswith("↑") else values.min())


def _cells(frame: pd.DataFrame, bold: callable) -> tuple[list[str], list[list[str]]]:  # type: ignore[valid-type]
    metrics = _metric_columns(frame)
    header = [*TYPESET_INFO, *metrics]
    best = {c: _best(frame, c) for c in metrics}
    rows = []
    for _, row in frame.iterrows():
        cells = [str(row[c]) if isinstance(row[c], str) else "" for c in TYPESET_INFO]
        for c in metrics:
            v = row[c]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append("-")
            else:
                text = f"{v:.1f}"
                cells.append(bold(text) if best[c] is not None and v == best[c] else text)
        rows.append(cells)
    return header, rows


def to_markdown(frame: pd.DataFrame) -> str:
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    header, rows = _cells(frame, lambda t: f"**{t}**")
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)
    return out.replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")


def to_latex(frame: pd.DataFrame) -> str:
    header, rows = _cells(frame, lambda t: rf"\textbf{{{t}}}")
    spec = "l" * len(TYPESET_INFO) + "r" * (len(header) - len(TYPESET_INFO))
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\hline", " & ".join(_latex_escape(h) for h in header) + r" \\", r"\hline"]
    for row in rows:
        cells = [c if c.startswith(r"\textbf") else _latex_escape(c) for c in row]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def export(frame: pd.DataFrame, fmt: str) -> str:
    """The table in `fmt` (one of FORMATS)."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=1, force_ascii=False) + "\n"
    if fmt == "markdown":
        return to_markdown(frame)
    return to_latex(frame)
