"""The in-memory test set every loader produces and every benchmark consumes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from harness.skeletons import JointSet, joint_set


@dataclass
class TestSet:
    """Ground truth and inputs of one dataset split, one row per sample, ordered by sequence then frame.

    `sequences` has one row per camera sequence with columns `name`, `subject`, `action_key`, `action`,
    `camera`, `take` (the recorded performance, shared by every camera that saw it), `start` and `length`
    (sample index range). Frames of a sequence are consecutive samples, in time order.
    """

    __test__ = False  # not a pytest test class

    dataset: str
    split: str
    joint_set: str
    root: int
    sample_id: np.ndarray  # (N,) unicode
    gt3d: np.ndarray  # (N, J, 3) float64, camera coordinates, mm
    sequences: pd.DataFrame
    fps: float
    inputs_2d: dict[str, np.ndarray] = field(default_factory=dict)  # source -> (N, J, 2) px
    input_2d_joints: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source -> its joint names, where not `joint_set`'s
    intrinsics: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # camera key -> f, c, k, p
    gt_variant: str = "positions_3d"
    missing: list[str] = field(default_factory=list)
    is_demo: bool = False
    sample_labels: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N,) label per sample, for breakdowns
    partial_joints_ok: bool = False  # may a submission with fewer joints be scored on the joints it shares?
    notes: list[str] = field(default_factory=list)  # facts about this copy worth stating with results (valid-frame counts)

    def __len__(self) -> int:
        return len(self.sample_id)

    def restricted_to(self, joints: JointSet) -> TestSet:
        """The same test set scored on a subset of its joints (a joint set whose names are all in this one's)."""
        idx = joint_set(self.joint_set).subset(joints.names)
        return replace(self, gt3d=self.gt3d[:, idx], joint_set=joints.name, root=joints.root, notes=[*self.notes, f"scored on the {len(idx)} joints the submission shares: {', '.join(joints.names)}"])

    @property
    def seq_start(self) -> np.ndarray:
        """Boolean mask of samples that begin a sequence."""
        mask = np.zeros(len(self), dtype=bool)
        mask[self.sequences["start"].to_numpy()] = True
        return mask
