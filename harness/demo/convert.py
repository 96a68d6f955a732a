"""Build the demo motion arrays: DeepMimic clips from the pybullet wheel, posed as Human3.6M 32-joint skeletons.

Maintainer tool, run once; its output `assets/deepmimic_h36m32.npz` is committed:

    python -m harness.demo.convert SOURCE -o harness/demo/assets/deepmimic_h36m32.npz

SOURCE is a pybullet wheel (read with zipfile) or a `pybullet_data` directory. pybullet itself is not imported.

Inputs. `pybullet_data/humanoid/humanoid.urdf` is DeepMimic's humanoid at 4x scale (pybullet loads it with
`globalScaling=0.25`, so offsets are multiplied by `URDF_SCALE`). Its frame is x forward, y up, z to the
person's right. `pybullet_data/data/motions/humanoid3d_<clip>.txt` is JSON `{"Loop": ..., "Frames": [...]}`;
each frame holds 44 floats laid out as `MOTION_LAYOUT`: the frame's duration in seconds, the root position
in metres, the root quaternion, then per joint a quaternion (w, x, y, z) for spherical joints or an angle in
radians about the URDF axis (local z) for the revolute knees and elbows. The duration of frame i is the time
to frame i + 1; the last frame's duration (0 in most files) is unused.

Conversion. Each clip is played once, from its first to its last frame (the "Loop" flag is ignored), and
resampled to 50 Hz: spherical joint rotations and the root rotation by slerp, knee/elbow angles and the root
position linearly (as pybullet's DeepMimic pose interpolator does). Forward kinematics then gives every link's
pose: a child joint sits at the parent link's origin plus the parent's world rotation applied to the scaled
URDF offset, and a child link's world rotation is the parent's times the joint's local rotation. Landmarks are
points fixed in one link, so every bone length is constant over time. Points are finally rotated from the
humanoid's y-up axes to the Human3.6M world axes (z up, right-handed): X = x, Y = -z, Z = y. The root keeps the
clip's trajectory: the ground is Z = 0 and every clip starts with the root above X = Y = 0 (roll at Y = -0.025).

Landmarks (`LANDMARKS`, offsets in metres in the named link's frame, humanoid axes):
- pelvis and spine_base: the root joint; r_hip/l_hip: the hip joints (the pelvis is exactly their midpoint).
- spine: the chest joint; thorax, r_clavicle, l_clavicle: the neck joint (at shoulder height).
- head (H36M "Neck/Nose"): 0.07 m forward and 0.10 m up from the neck joint; head_top: 0.01 m forward and
  0.21 m up from it (the URDF head sphere spans 0.07 to 0.28 m above the neck joint).
- shoulders, elbows, wrists, knees, ankles: those joints.
- r_toe/l_toe: 0.135 m forward and 0.05 m down from the ankle (front bottom edge of the URDF foot box);
  toe_end: 0.04 m further forward.
- hand: 0.05 m past the wrist along the forearm; hand_end: 0.10 m past it. thumb: 0.03 m past the wrist and
  0.025 m forward (the side the elbow bends towards); thumb_end: 0.06 m past and 0.04 m forward.
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from harness.skeletons import H36M32

URDF_SCALE = 0.25
FPS = 50
URDF_MEMBER = "humanoid/humanoid.urdf"
CLIP_NAMES: tuple[str, ...] = (
    "backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup", "jump", "kick",
    "punch", "roll", "run", "spin", "spinkick", "walk",
)
# Per-joint columns of a motion frame after [duration, root xyz, root quaternion]: 4 = quaternion wxyz, 1 = angle.
MOTION_LAYOUT: tuple[tuple[str, int], ...] = (
    ("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4), ("right_shoulder", 4),
    ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
)
FRAME_WIDTH = 8 + sum(width for _, width in MOTION_LAYOUT)
DEFAULT_OUTPUT = Path(__file__).with_name("assets") / "deepmimic_h36m32.npz"

# Humanoid (x forward, y up, z right) to Human3.6M world axes (z up): X = x, Y = -z, Z = y.
TO_H36M = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

_ORIGIN = (0.0, 0.0, 0.0)


def _side_landmarks(h36m: str, urdf: str) -> dict[str, tuple[str, tuple[float, float, float]]]:
    """Limb landmarks of one side ("r"/"right" or "l"/"left"); offsets have no z, so both sides mirror."""
    return {
        f"{h36m}_hip": (f"{urdf}_hip", _ORIGIN),
        f"{h36m}_knee": (f"{urdf}_knee", _ORIGIN),
        f"{h36m}_ankle": (f"{urdf}_ankle", _ORIGIN),
        f"{h36m}_toe": (f"{urdf}_ankle", (0.135, -0.05, 0.0)),
        f"{h36m}_toe_end": (f"{urdf}_ankle", (0.175, -0.05, 0.0)),
        f"{h36m}_clavicle": ("neck", _ORIGIN),
        f"{h36m}_shoulder": (f"{urdf}_shoulder", _ORIGIN),
        f"{h36m}_elbow": (f"{urdf}_elbow", _ORIGIN),
        f"{h36m}_wrist": (f"{urdf}_wrist", _ORIGIN),
        f"{h36m}_thumb": (f"{urdf}_wrist", (0.025, -0.03, 0.0)),
        f"{h36m}_thumb_end": (f"{urdf}_wrist", (0.04, -0.06, 0.0)),
        f"{h36m}_hand": (f"{urdf}_wrist", (0.0, -0.05, 0.0)),
        f"{h36m}_hand_end": (f"{urdf}_wrist", (0.0, -0.10, 0.0)),
    }


# H36M32 joint name -> (humanoid link, point in that link's frame in metres).
LANDMARKS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "pelvis": ("root", _ORIGIN),
    "spine_base": ("root", _ORIGIN),
    "spine": ("chest", _ORIGIN),
    "thorax": ("neck", _ORIGIN),
    "head": ("neck", (0.07, 0.10, 0.0)),
    "head_top": ("neck", (0.01, 0.21, 0.0)),
    **_side_landmarks("r", "right"),
    **_side_landmarks("l", "left"),
}


@dataclass(frozen=True)
class Joint:
    """A URDF joint: places link `child` at `offset` (metres) in link `parent`'s frame."""

    name: str
    kind: str  # "fixed", "spherical" or "revolute"
    parent: str
    child: str
    offset: np.ndarray  # (3,)
    axis: np.ndarray  # (3,) unit rotation axis of a revolute joint


@dataclass(frozen=True)
class Humanoid:
    """The kinematic tree: the base link and its joints, every parent link placed before its children."""

    base: str
    joints: tuple[Joint, ...]


@dataclass(frozen=True)
class Clip:
    """A motion clip: frame times in seconds from 0, root pose and the local rotation of every moving joint."""

    times: np.ndarray  # (F,)
    root_position: np.ndarray  # (F, 3) metres, humanoid axes
    root_rotation: Rotation  # F rotations
    rotations: dict[str, Rotation]  # spherical joints, F rotations each
    angles: dict[str, np.ndarray]  # revolute joints, (F,) radians each


def read_member(source: str | Path, member: str) -> bytes:
    """Bytes of `member` (a path inside pybullet_data) from a pybullet wheel or a pybullet_data directory."""
    path = Path(source)
    if path.is_dir():
        file = path / member
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found: is {path} a pybullet_data directory?")
        return file.read_bytes()
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as wheel:
            try:
                return wheel.read(f"pybullet_data/{member}")
            except KeyError:
                raise FileNotFoundError(f"pybullet_data/{member} not found in {path}") from None
    raise FileNotFoundError(f"{path} is neither a pybullet wheel nor a pybullet_data directory")


def _vector(element: ET.Element | None, attribute: str, default: str) -> np.ndarray:
    text = default if element is None else element.get(attribute, default)
    return np.array([float(v) for v in text.split()])


def _parse_joint(element: ET.Element) -> Joint:
    origin = element.find("origin")
    if np.any(_vector(origin, "rpy", "0 0 0") != 0):
        raise ValueError(f"URDF joint {element.get('name')}: rotated joint frames (rpy) are not supported")
    axis = _vector(element.find("axis"), "xyz", "1 0 0")
    return Joint(
        name=element.get("name", ""),
        kind=element.get("type", ""),
        parent=element.find("parent").get("link"),
        child=element.find("child").get("link"),
        offset=_vector(origin, "xyz", "0 0 0") * URDF_SCALE,
        axis=axis / np.linalg.norm(axis),
    )


def _tree_order(joints: list[Joint]) -> Humanoid:
    bases = {j.parent for j in joints} - {j.child for j in joints}
    if len(bases) != 1:
        raise ValueError(f"URDF must have exactly one base link, found {sorted(bases)}")
    base = bases.pop()
    placed, ordered, pending = {base}, [], list(joints)
    while pending:
        ready = [j for j in pending if j.parent in placed]
        if not ready:
            raise ValueError(f"URDF joints {[j.name for j in pending]} are not connected to the base link {base}")
        ordered += ready
        placed |= {j.child for j in ready}
        pending = [j for j in pending if j not in ready]
    return Humanoid(base=base, joints=tuple(ordered))


def parse_urdf(data: bytes) -> Humanoid:
    """The kinematic tree of a URDF document; trailing bytes after `</robot>` (the file ends in a NUL) are cut."""
    text = data.decode("utf-8")
    end = text.find("</robot>")
    if end < 0:
        raise ValueError("not a URDF document: no </robot>")
    robot = ET.fromstring(text[: end + len("</robot>")])
    return _tree_order([_parse_joint(element) for element in robot.iter("joint")])


def read_humanoid(source: str | Path) -> Humanoid:
    """DeepMimic's humanoid from a pybullet wheel or pybullet_data directory, offsets in metres."""
    return parse_urdf(read_member(source, URDF_MEMBER))


def _rotations_wxyz(quaternions: np.ndarray) -> Rotation:
    """Rotations from (F, 4) scalar-first quaternions (normalised by scipy; some files are off by ~0.5%)."""
    return Rotation.from_quat(quaternions[:, [1, 2, 3, 0]])


def parse_motion(text: str) -> Clip:
    """A DeepMimic motion file's frames as a `Clip`."""
    frames = np.asarray(json.loads(text)["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_WIDTH or len(frames) < 2:
        raise ValueError(f"motion frames must be (F >= 2, {FRAME_WIDTH}), got {frames.shape}")
    durations = frames[:-1, 0]
    if np.any(durations <= 0):
        raise ValueError("every frame but the last must have a positive duration")
    rotations, angles, column = {}, {}, 8
    for name, width in MOTION_LAYOUT:
        values = frames[:, column : column + width]
        if width == 4:
            rotations[name] = _rotations_wxyz(values)
        else:
            angles[name] = values[:, 0]
        column += width
    return Clip(
        times=np.concatenate([[0.0], np.cumsum(durations)]),
        root_position=frames[:, 1:4],
        root_rotation=_rotations_wxyz(frames[:, 4:8]),
        rotations=rotations,
        angles=angles,
    )


def read_clip(source: str | Path, name: str) -> Clip:
    """The clip `name` (e.g. "walk") from a pybullet wheel or pybullet_data directory."""
    return parse_motion(read_member(source, f"data/motions/humanoid3d_{name}.txt").decode("utf-8"))


def resample(clip: Clip, fps: int = FPS) -> Clip:
    """The clip at `fps` frames per second from its first frame up to its last (no looping)."""
    count = int(np.floor(clip.times[-1] * fps + 1e-6)) + 1
    times = np.minimum(np.arange(count) / fps, clip.times[-1])

    def slerp(rotations: Rotation) -> Rotation:
        return Slerp(clip.times, rotations)(times)

    return Clip(
        times=times,
        root_position=np.stack([np.interp(times, clip.times, c) for c in clip.root_position.T], axis=-1),
        root_rotation=slerp(clip.root_rotation),
        rotations={name: slerp(r) for name, r in clip.rotations.items()},
        angles={name: np.interp(times, clip.times, a) for name, a in clip.angles.items()},
    )


def _local_rotation(joint: Joint, clip: Clip) -> Rotation:
    if joint.kind == "fixed":
        return Rotation.identity()
    if joint.kind == "spherical" and joint.name in clip.rotations:
        return clip.rotations[joint.name]
    if joint.kind == "revolute" and joint.name in clip.angles:
        return Rotation.from_rotvec(clip.angles[joint.name][:, None] * joint.axis)
    raise ValueError(f"no motion for {joint.kind} joint {joint.name}")


def forward_kinematics(humanoid: Humanoid, clip: Clip) -> dict[str, tuple[np.ndarray, Rotation]]:
    """World pose of every link per frame: link name -> ((F, 3) origin in metres, F rotations), humanoid axes."""
    poses = {humanoid.base: (clip.root_position, clip.root_rotation)}
    for joint in humanoid.joints:
        position, rotation = poses[joint.parent]
        poses[joint.child] = (position + rotation.apply(joint.offset), rotation * _local_rotation(joint, clip))
    return poses


def landmarks(poses: dict[str, tuple[np.ndarray, Rotation]]) -> np.ndarray:
    """The H36M32 points (F, 32, 3) from link poses, still in humanoid axes."""
    points = []
    for name in H36M32.names:
        link, offset = LANDMARKS[name]
        position, rotation = poses[link]
        points.append(position + rotation.apply(np.array(offset)))
    return np.stack(points, axis=1)


def convert_clip(humanoid: Humanoid, clip: Clip, fps: int = FPS) -> np.ndarray:
    """The clip resampled to `fps` as H36M32 joint positions (T, 32, 3), metres, Human3.6M world axes (z up)."""
    return landmarks(forward_kinematics(humanoid, resample(clip, fps))) @ TO_H36M.T


def convert_all(source: str | Path) -> dict[str, np.ndarray]:
    """Every DeepMimic humanoid clip of `source` converted at 50 Hz: clip name -> (T, 32, 3) float64."""
    humanoid = read_humanoid(source)
    return {name: convert_clip(humanoid, read_clip(source, name)) for name in CLIP_NAMES}


def write_npz(clips: dict[str, np.ndarray], path: str | Path) -> None:
    """Save clips as float32 arrays plus `fps` and `joint_names`, compressed and pickle-free."""
    arrays = {name: np.asarray(points, dtype=np.float32) for name, points in clips.items()}
    np.savez_compressed(path, fps=np.array(FPS), joint_names=np.array(H36M32.names), **arrays)


def main(argv: list[str] | None = None) -> None:
    """Command line: convert SOURCE (wheel or pybullet_data directory) and write the npz."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.demo.convert", description=__doc__.splitlines()[0]
    )
    parser.add_argument("source", type=Path, help="pybullet wheel (.whl) or pybullet_data directory")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}")
    args = parser.parse_args(argv)
    try:
        clips = convert_all(args.source)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")
    write_npz(clips, args.output)
    frames = ", ".join(f"{name} {len(points)}" for name, points in clips.items())
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes) at {FPS} Hz: {frames}")


if __name__ == "__main__":
    main()
