"""Progress over time: every row of a benchmark placed by publication year, and the best so far per supervision."""

from __future__ import annotations

import pandas as pd

def progress_points(table: pd.DataFrame, metric_column: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(points, best so far, methods without a year) of `metric_column` in a leaderboard table. A point's kind is
    its source, with ', protocol differs' for a row not ranked; the best-so-far line runs per supervision level
    over the ranked rows only, so a number computed otherwise is shown but never the best."""
    rows = table.dropna(subset=[metric_column]) if metric_column in table else table.iloc[0:0]
    undated = sorted(set(rows[rows["year"].isna()]["method"]))
    rows = rows.dropna(subset=["year"])
    points = pd.DataFrame(
        {
            "method": rows["method"], "year": rows["year"].astype(int), "value": rows[metric_column].astype(float),
            "supervision": rows["supervision"].fillna("unknown").replace("", "unknown"), "source": rows["source"],
            "kind": [s if c else f"{s}, protocol differs" for s, c in zip(rows["source"], rows["comparable"].astype(bool))],
            "protocol_differs": rows["protocol_differs"].fillna(""), "comparable": rows["comparable"].astype(bool),
        }
    ).reset_index(drop=True)
    lower = metric_column.endswith("↓")
    best = []
    for supervision, group in points[points["comparable"]].groupby("supervision"):
        per_year = group.groupby("year")["value"].agg("min" if lower else "max").sort_index()
        so_far = per_year.cummin() if lower else per_year.cummax()
        best += [{"supervision": supervision, "year": int(y), "best_so_far": float(v)} for y, v in so_far.items()]
    return points, pd.DataFrame(best, columns=["supervision", "year", "best_so_far"]), undated
