"""Named joint sets of the three benchmarks and index maps between them by joint name.

Joint names are canonical landmark keys shared across sets, so a name means the same point in every set
that has it. The field's conversions fix which landmarks correspond: the H36M "Thorax" is the 3DHP "neck",
the H36M "Neck/Nose" is the 3DHP "head" and the H36M "Head" is the 3DHP "head_top"; here they are named
`thorax`, `head` and `head_top` in every set. SMPL joints are kinematic joint centres; only the limb
joints and the pelvis are treated as the same landmarks as the marker-based sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class JointSet:
    """An ordered joint set: names, parent index per joint (-1 for the root) and display labels."""

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    root: int
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.parents) != len(self.names) or len(set(self.names)) != len(self.names):
            raise ValueError(f"joint set {self.name}: names must be unique and match parents")
        if self.labels and len(self.labels) != len(self.names):
            raise ValueError(f"joint set {self.name}: one label per joint")

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @cached_property
    def left_right_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left, right) index pairs for every `l_*` joint whose `r_*` twin is in the set."""
        return tuple(
            (i, self.index["r_" + n[2:]]) for i, n in enumerate(self.names) if n.startswith("l_") and "r_" + n[2:] in self.index
        )

    @property
    def left(self) -> tuple[int, ...]:
        return tuple(left for left, _ in self.left_right_pairs)

    @property
    def right(self) -> tuple[int, ...]:
        return tuple(right for _, right in self.left_right_pairs)

    def flip_permutation(self) -> np.ndarray:
        """Index permutation that swaps every left joint with its right twin."""
        perm = np.arange(len(self))
        for left, right in self.left_right_pairs:
            perm[left], perm[right] = right, left
        return perm

    def subset(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """Indices of the named joints in this set, in the order given."""
        missing = [n for n in names if n not in self.index]
        if missing:
            raise KeyError(f"joint set {self.name} has no joint(s) {missing}")
        return np.array([self.index[n] for n in names], dtype=np.intp)

    def bones(self) -> np.ndarray:
        """(child, parent) pairs for every non-root joint, shape (J-1, 2)."""
        return np.array([(j, p) for j, p in enumerate(self.parents) if p >= 0], dtype=np.intp)


H36M17 = JointSet(
    name="h36m17",
    names=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax", "head", "head_top",
        "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    root=0,
    labels=(
        "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose", "Head",
        "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
    ),
)

# The 32-joint layout of the raw Human3.6M mocap (and VideoPose3D's data_3d_h36m.npz). Joints the
# benchmark does not use are end sites or duplicates: 11 repeats the pelvis, 16 and 24 the thorax.
H36M32 = JointSet(
    name="h36m32",
    names=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "r_toe", "r_toe_end", "l_hip", "l_knee", "l_ankle", "l_toe",
        "l_toe_end", "spine_base", "spine", "thorax", "head", "head_top", "l_clavicle", "l_shoulder", "l_elbow",
        "l_wrist", "l_thumb", "l_thumb_end", "l_hand", "l_hand_end", "r_clavicle", "r_shoulder", "r_elbow",
        "r_wrist", "r_thumb", "r_thumb_end", "r_hand", "r_hand_end",
    ),
    parents=(
        -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27,
        28, 27, 30,
    ),
    root=0,
)

# The 17 raw joints kept for the H36M-17 set, in H36M-17 order.
H36M32_TO_17 = H36M32.subset(H36M17.names)

MPI_INF_3DHP17 = JointSet(
    name="mpi_inf_3dhp17",
    names=(
        "head_top", "thorax", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip",
        "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    root=14,
    labels=(
        "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "pelvis",
        "spine", "head",
    ),
)

SMPL24 = JointSet(
    name="smpl24",
    names=(
        "pelvis", "l_hip", "r_hip", "smpl_spine1", "l_knee", "r_knee", "smpl_spine2", "l_ankle", "r_ankle",
        "smpl_spine3", "l_foot", "r_foot", "smpl_neck", "l_collar", "r_collar", "smpl_head", "l_shoulder",
        "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hand", "r_hand",
    ),
    parents=(-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21),
    root=0,
)

LSP14 = JointSet(
    name="lsp14",
    names=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "r_shoulder",
        "l_shoulder", "l_elbow", "l_wrist", "thorax", "head_top",
    ),
    parents=(1, 2, -1, 2, 3, 4, 7, 8, 12, 12, 9, 10, 2, 12),
    root=2,
    labels=(
        "RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle", "RWrist", "RElbow", "RShoulder", "LShoulder",
        "LElbow", "LWrist", "Neck", "HeadTop",
    ),
)

JOINT_SETS: dict[str, JointSet] = {s.name: s for s in (H36M17, H36M32, MPI_INF_3DHP17, SMPL24, LSP14)}

# The official MPI-INF-3DHP PCK/AUC joints: all but pelvis, spine and head (the H36M Neck/Nose).
PCK14_NAMES: tuple[str, ...] = tuple(n for n in MPI_INF_3DHP17.names if n not in ("pelvis", "spine", "head"))


def joint_set(name: str) -> JointSet:
    """Look up a joint set by name, with a message listing the known ones."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise KeyError(f"unknown joint set {name!r}; known: {', '.join(JOINT_SETS)}") from None


def joint_map(source: JointSet | str, target: JointSet | str) -> np.ndarray:
    """Indices into `source` giving every joint of `target`, matched by name; KeyError if one is missing."""
    src = joint_set(source) if isinstance(source, str) else source
    dst = joint_set(target) if isinstance(target, str) else target
    missing = [n for n in dst.names if n not in src.index]
    if missing:
        raise KeyError(f"joint set {src.name} lacks {len(missing)} joint(s) of {dst.name}: {', '.join(missing)}")
    return src.subset(dst.names)


def shared_subset(full: JointSet | str, other: JointSet | str) -> JointSet:
    """The joints of `full` that `other` also has, as a joint set (registered, so it can be looked up by name).

    Each kept joint's parent is its nearest kept ancestor in `full`; the root must be shared.
    """
    src = joint_set(full) if isinstance(full, str) else full
    names = common_joints(other, src)
    if src.names[src.root] not in names:
        raise KeyError(f"joint sets {src.name} and {joint_set(other).name if isinstance(other, str) else other.name} do not share the root")
    keep = {n: i for i, n in enumerate(names)}
    parents = []
    for n in names:
        p = src.parents[src.index[n]]
        while p >= 0 and src.names[p] not in keep:
            p = src.parents[p]
        parents.append(keep[src.names[p]] if p >= 0 else -1)
    other_name = other if isinstance(other, str) else other.name
    subset = JointSet(name=f"{src.name}&{other_name}", names=names, parents=tuple(parents), root=keep[src.names[src.root]])
    JOINT_SETS.setdefault(subset.name, subset)
    return JOINT_SETS[subset.name]


def common_joints(a: JointSet | str, b: JointSet | str) -> tuple[str, ...]:
    """Names present in both sets, in the order of `b`."""
    sa = joint_set(a) if isinstance(a, str) else a
    sb = joint_set(b) if isinstance(b, str) else b
    return tuple(n for n in sb.names if n in sa.index)
