"""Rotatable 3D skeletons of a worst frame: ground truth and prediction side by side in one 3D scene (plotly).

One scene, so one camera: a drag turns both skeletons together and the comparison survives any rotation. The
prediction is drawn shifted along x by a fixed gap, which the x-axis title states; depth and height are shared.
"""

from __future__ import annotations

import plotly.graph_objects as go

from harness.skeletons import joint_set

COLOURS = {"left": "#1f77b4", "right": "#d62728", "centre": "#555555"}
EYE = {"x": 0.45, "y": -1.75, "z": 0.45}  # a little above and in front: both people fill the view


def _side(name: str) -> str:
    return "left" if name.startswith("l_") else "right" if name.startswith("r_") else "centre"


def _traces(points: list[list[float]], joints: str, label: str, shift: float) -> list[go.Scatter3d]:
    js = joint_set(joints)
    traces = []
    for child, parent in js.bones():
        a, b = points[parent], points[child]
        # Camera coordinates have y pointing down; plot -y as up so people stand upright.
        traces.append(
            go.Scatter3d(
                x=[a[0] + shift, b[0] + shift], y=[a[2], b[2]], z=[-a[1], -b[1]], mode="lines+markers",
                line={"color": COLOURS[_side(js.names[child])], "width": 7}, marker={"size": 3},
                name=label, showlegend=False, hovertext=f"{label}: {js.names[child]}", hoverinfo="text",
            )
        )
    return traces


def skeleton_figure(frame: dict) -> go.Figure:
    """Ground truth on the left, prediction on the right, in one scene with one camera; left limbs blue, right red."""
    gt, pred = frame["gt"], frame["pred"]
    pts = gt + pred
    centre = [sum(p[k] for p in pts) / len(pts) for k in range(3)]
    half = max(max(abs(p[k] - centre[k]) for p in pts) for k in range(3)) * 1.05 or 1.0
    gap = 2 * half  # the prediction's x offset: one person-sized cube to the right
    fig = go.Figure([*_traces(gt, frame["joint_set"], "ground truth", 0.0), *_traces(pred, frame["joint_set"], "prediction", gap)])
    x = (centre[0] - half, centre[0] + gap + half)
    depth, up = (centre[2] - half, centre[2] + half), (-centre[1] - half, -centre[1] + half)
    label = {"showarrow": False, "font": {"size": 14}, "z": up[1], "y": centre[2]}
    fig.update_layout(
        scene={
            "xaxis": {"title": {"text": f"x (mm); prediction drawn {gap:.0f} mm to the right"}, "range": x},
            "yaxis": {"title": {"text": "depth (mm)"}, "range": depth},
            "zaxis": {"title": {"text": "up (mm)"}, "range": up},
            "aspectmode": "manual", "aspectratio": {"x": 2, "y": 1, "z": 1},
            "camera": {"eye": EYE, "up": {"x": 0, "y": 0, "z": 1}},
            "annotations": [{**label, "x": centre[0], "text": "ground truth"}, {**label, "x": centre[0] + gap, "text": f"prediction ({frame['mpjpe']:.0f} mm)"}],
        },
        height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig
