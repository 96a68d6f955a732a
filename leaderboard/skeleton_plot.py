"""Rotatable 3D skeletons of a worst frame: ground truth and prediction side by side (plotly)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from harness.skeletons import joint_set

COLOURS = {"left": "#1f77b4", "right": "#d62728", "centre": "#555555"}


def _side(name: str) -> str:
    return "left" if name.startswith("l_") else "right" if name.startswith("r_") else "centre"


def _traces(points: list[list[float]], joints: str, label: str) -> list[go.Scatter3d]:
    js = joint_set(joints)
    traces = []
    for child, parent in js.bones():
        a, b = points[parent], points[child]
        # Camera coordinates have y pointing down; plot -y as up so people stand upright.
        traces.append(
            go.Scatter3d(
                x=[a[0], b[0]], y=[a[2], b[2]], z=[-a[1], -b[1]], mode="lines+markers",
                line={"color": COLOURS[_side(js.names[child])], "width": 6}, marker={"size": 3},
                name=label, showlegend=False, hovertext=js.names[child], hoverinfo="text",
            )
        )
    return traces


def skeleton_figure(frame: dict) -> go.Figure:
    """Two 3D scenes, GT left and prediction right; left limbs blue, right limbs red."""
    fig = make_subplots(rows=1, cols=2, specs=[[{"type": "scene"}, {"type": "scene"}]], subplot_titles=("ground truth", f"prediction ({frame['mpjpe']:.0f} mm)"))
    for trace in _traces(frame["gt"], frame["joint_set"], "ground truth"):
        fig.add_trace(trace, row=1, col=1)
    for trace in _traces(frame["pred"], frame["joint_set"], "prediction"):
        fig.add_trace(trace, row=1, col=2)
    # Same cube of space in both scenes, so sizes and offsets compare at a glance.
    pts = frame["gt"] + frame["pred"]
    centre = [sum(p[k] for p in pts) / len(pts) for k in range(3)]
    half = max(max(abs(p[k] - centre[k]) for p in pts) for k in range(3)) * 1.1 or 1.0
    x, depth, up = (centre[0] - half, centre[0] + half), (centre[2] - half, centre[2] + half), (-centre[1] - half, -centre[1] + half)
    axes = {
        "xaxis": {"title": "x (mm)", "range": x}, "yaxis": {"title": "depth (mm)", "range": depth},
        "zaxis": {"title": "up (mm)", "range": up}, "aspectmode": "cube",
    }
    fig.update_layout(scene=axes, scene2=axes, height=420, margin={"l": 0, "r": 0, "t": 40, "b": 0})
    return fig
