"""The DeepMimic -> H36M32 demo-data converter and the arrays it committed."""

from __future__ import annotations

import importlib.util
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from harness.demo import convert as dc
from harness.skeletons import H36M32

ASSET = Path(dc.__file__).with_name("assets") / "deepmimic_h36m32.npz"
J = H36M32.index

# A small humanoid in the DeepMimic URDF's form (4x scale, so 2.0 is 0.5 m); z is the person's right.
TINY_JOINTS = (  # name, type, parent link, offset
    ("root", "fixed", "base", "0 0 0"),
    ("chest", "spherical", "root", "0 2 0"),
    ("neck", "spherical", "chest", "0 2 0"),
    ("right_hip", "spherical", "root", "0 0 0.4"),
    ("right_knee", "revolute", "right_hip", "0 -2 0"),
    ("right_ankle", "spherical", "right_knee", "0 -2 0"),
    ("right_shoulder", "spherical", "chest", "0 2 0.8"),
    ("right_elbow", "revolute", "right_shoulder", "0 -1.2 0"),
    ("right_wrist", "fixed", "right_elbow", "0 -1.2 0"),
    ("left_hip", "spherical", "root", "0 0 -0.4"),
    ("left_knee", "revolute", "left_hip", "0 -2 0"),
    ("left_ankle", "spherical", "left_knee", "0 -2 0"),
    ("left_shoulder", "spherical", "chest", "0 2 -0.8"),
    ("left_elbow", "revolute", "left_shoulder", "0 -1.2 0"),
    ("left_wrist", "fixed", "left_elbow", "0 -1.2 0"),
)
# The motion-file layout after [duration, root xyz, root wxyz], written out independently of the module.
LAYOUT = (
    ("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4), ("right_shoulder", 4),
    ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
)
IDENTITY_WXYZ = [1.0, 0.0, 0.0, 0.0]


def tiny_urdf() -> bytes:
    links = "".join(f'<link name="{n}"/>' for n in ["base"] + [j[0] for j in TINY_JOINTS])
    joints = "".join(
        f'<joint name="{n}" type="{t}"><parent link="{p}"/><child link="{n}"/><origin rpy="0 0 0" xyz="{xyz}"/>'
        + ('<axis xyz="0 0 1"/>' if t == "revolute" else "")
        + "</joint>\r\n"
        for n, t, p, xyz in TINY_JOINTS
    )
    return f'<robot name="tiny">\r\n{links}\r\n{joints}</robot>\r\n\0'.encode()


def frame(duration: float = 0.1, root=(0.0, 0.0, 0.0), root_wxyz=IDENTITY_WXYZ, **joints) -> list[float]:
    values = [duration, *root, *root_wxyz]
    for name, width in LAYOUT:
        values += list(joints.get(name, IDENTITY_WXYZ if width == 4 else [0.0]))
    return values


def write_source(root: Path, frames: list[list[float]], name: str = "walk") -> Path:
    """A pybullet_data-like directory holding the tiny URDF and one motion clip."""
    (root / "humanoid").mkdir(parents=True, exist_ok=True)
    (root / "humanoid" / "humanoid.urdf").write_bytes(tiny_urdf())
    (root / "data" / "motions").mkdir(parents=True, exist_ok=True)
    (root / "data" / "motions" / f"humanoid3d_{name}.txt").write_text(json.dumps({"Loop": "wrap", "Frames": frames}))
    return root


def convert_tiny(tmp_path: Path, frames: list[list[float]]) -> np.ndarray:
    source = write_source(tmp_path / "pybullet_data", frames)
    return dc.convert_clip(dc.read_humanoid(source), dc.read_clip(source, "walk"))


def wxyz(rotation: Rotation) -> list[float]:
    x, y, z, w = rotation.as_quat()
    return [w, x, y, z]


def rest_pose(tmp_path: Path, root=(0.0, 0.0, 0.0)) -> np.ndarray:
    return convert_tiny(tmp_path, [frame(root=root), frame(root=root)])[0]


# ---- forward kinematics on a hand-written humanoid ----


def test_rest_pose_is_the_offsets_in_h36m_axes(tmp_path):
    pose = rest_pose(tmp_path, root=(1.0, 2.0, 3.0))  # humanoid (x fwd, y up, z right) -> H36M (x, -z, y)
    root = np.array([1.0, -3.0, 2.0])
    expected = {
        "pelvis": (0, 0, 0), "spine_base": (0, 0, 0), "r_hip": (0, -0.1, 0), "l_hip": (0, 0.1, 0),
        "r_knee": (0, -0.1, -0.5), "r_ankle": (0, -0.1, -1.0), "l_ankle": (0, 0.1, -1.0),
        "r_toe": (0.135, -0.1, -1.05), "spine": (0, 0, 0.5), "thorax": (0, 0, 1.0), "r_clavicle": (0, 0, 1.0),
        "head": (0.07, 0, 1.1), "head_top": (0.01, 0, 1.21), "r_shoulder": (0, -0.2, 1.0),
        "l_shoulder": (0, 0.2, 1.0), "r_elbow": (0, -0.2, 0.7), "r_wrist": (0, -0.2, 0.4),
        "r_hand": (0, -0.2, 0.35), "l_thumb": (0.025, 0.2, 0.37),
    }
    for name, point in expected.items():
        np.testing.assert_allclose(pose[J[name]] - root, point, atol=1e-12, err_msg=name)


def test_root_yaw_rotates_every_point_about_vertical(tmp_path):
    rest = rest_pose(tmp_path)
    yaw = Rotation.from_euler("y", 90, degrees=True)  # about the humanoid's up axis
    turned = convert_tiny(tmp_path, [frame(root_wxyz=wxyz(yaw))] * 2)[0]
    np.testing.assert_allclose(turned, rest @ Rotation.from_euler("z", 90, degrees=True).as_matrix().T, atol=1e-12)
    assert turned[J["r_toe"], 1] > 0.1  # a left turn: the toes that pointed to +X now point to +Y


def test_knee_bend_swings_the_shank_backwards(tmp_path):
    rest = rest_pose(tmp_path)
    bent = convert_tiny(tmp_path, [frame(right_knee=[-np.pi / 2])] * 2)[0]
    np.testing.assert_allclose(bent[J["r_ankle"]], rest[J["r_knee"]] + [-0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(bent[J["r_toe"]], bent[J["r_ankle"]] + [-0.05, 0.0, -0.135], atol=1e-12)
    np.testing.assert_allclose(bent[J["l_ankle"]], rest[J["l_ankle"]], atol=1e-12)


def test_hip_quaternion_is_scalar_first(tmp_path):
    rest = rest_pose(tmp_path)
    flexed = convert_tiny(tmp_path, [frame(right_hip=wxyz(Rotation.from_euler("z", 90, degrees=True)))] * 2)[0]
    np.testing.assert_allclose(flexed[J["r_ankle"]], rest[J["r_hip"]] + [1.0, 0.0, 0.0], atol=1e-12)


def test_resampling_to_50_hz_interpolates_between_frames(tmp_path):
    yaw = Rotation.from_euler("y", 90, degrees=True)
    frames = [frame(0.1), frame(0.1, root=(1.0, 0.0, 0.0), root_wxyz=wxyz(yaw)), frame(7.0, root=(1.0, 0.0, 0.0))]
    points = convert_tiny(tmp_path, frames)
    assert points.shape == (11, 32, 3)  # 0.2 s at 50 Hz, played once; the last frame's duration is unused
    np.testing.assert_allclose(points[[0, 2, 5, 10], J["pelvis"], 0], [0.0, 0.4, 1.0, 1.0], atol=1e-12)
    facing = points[:, J["r_toe"]] - points[:, J["r_ankle"]]
    assert np.degrees(np.arctan2(facing[2, 1], facing[2, 0])) == pytest.approx(36.0)
    assert np.degrees(np.arctan2(facing[5, 1], facing[5, 0])) == pytest.approx(90.0)


def test_wheel_and_directory_sources_agree(tmp_path):
    directory = write_source(tmp_path / "pybullet_data", [frame(), frame(right_knee=[-1.0])])
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for file in directory.rglob("*"):
            if file.is_file():
                archive.write(file, f"pybullet_data/{file.relative_to(directory)}")
    from_dir = dc.convert_clip(dc.read_humanoid(directory), dc.read_clip(directory, "walk"))
    from_wheel = dc.convert_clip(dc.read_humanoid(wheel), dc.read_clip(wheel, "walk"))
    np.testing.assert_array_equal(from_wheel, from_dir)
    with pytest.raises(FileNotFoundError, match="humanoid3d_run"):
        dc.read_clip(wheel, "run")


def test_missing_source_and_bad_frames_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a pybullet wheel"):
        dc.read_humanoid(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="humanoid.urdf"):
        dc.read_humanoid(tmp_path)
    with pytest.raises(ValueError, match="44"):
        dc.parse_motion(json.dumps({"Frames": [frame()[:-1]] * 2}))
    with pytest.raises(SystemExit):
        dc.main([str(tmp_path / "nowhere"), "-o", str(tmp_path / "out.npz")])
    assert not (tmp_path / "out.npz").exists()


def test_every_h36m32_joint_has_a_landmark():
    assert set(dc.LANDMARKS) == set(H36M32.names)


# ---- the committed arrays ----


@pytest.fixture(scope="module")
def asset() -> dict[str, np.ndarray]:
    with np.load(ASSET, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def clips(asset) -> dict[str, np.ndarray]:
    return {name: points for name, points in asset.items() if name not in ("fps", "joint_names")}


def test_asset_layout(asset, clips):
    assert ASSET.stat().st_size < 1_000_000
    assert asset["fps"].shape == () and int(asset["fps"]) == 50
    assert asset["joint_names"].dtype.kind == "U" and tuple(asset["joint_names"]) == H36M32.names
    assert sorted(clips) == sorted(dc.CLIP_NAMES) and len(clips) == 15
    for name, points in clips.items():
        assert points.dtype == np.float32 and points.ndim == 3 and points.shape[1:] == (32, 3), name
        assert len(points) >= 40 and np.isfinite(points).all(), name


def bone_lengths(points: np.ndarray) -> np.ndarray:
    bones = H36M32.bones()
    return np.linalg.norm(points[:, bones[:, 0]] - points[:, bones[:, 1]], axis=-1)


def test_bones_are_rigid_and_symmetric(clips):
    reference = bone_lengths(clips["walk"][:1])[0]
    names = [H36M32.names[child] for child, _ in H36M32.bones()]
    mirror = [names.index("r_" + n[2:]) if n.startswith("l_") else i for i, n in enumerate(names)]
    np.testing.assert_allclose(reference, reference[mirror], atol=1e-6)
    assert reference[names.index("r_knee")] == pytest.approx(1.686184 * 0.25, abs=1e-5)
    for name, points in clips.items():
        np.testing.assert_allclose(bone_lengths(points), np.broadcast_to(reference, (len(points), 31)), atol=1e-4,
                                   err_msg=name)


def test_pelvis_is_the_hip_midpoint(clips):
    for name, points in clips.items():
        midpoint = (points[:, J["r_hip"]] + points[:, J["l_hip"]]) / 2
        np.testing.assert_allclose(points[:, J["pelvis"]], midpoint, atol=1e-5, err_msg=name)


def test_walk_stands_upright_on_the_ground(clips):
    walk = clips["walk"]
    ankles = walk[:, [J["r_ankle"], J["l_ankle"]], 2]
    height = walk[:, J["head_top"], 2] - ankles.min(axis=1)
    assert np.all((height > 1.4) & (height < 2.0))
    lowest_foot_point = walk[:, [J["r_ankle"], J["l_ankle"], J["r_toe"], J["l_toe"]], 2].min(axis=1)
    assert np.all((lowest_foot_point > -0.01) & (lowest_foot_point < 0.04))  # the sole touches z = 0
    assert np.all(walk[:, J["pelvis"], 2] > 0.8)


def test_walk_is_right_handed(clips):
    """(right hip - left hip) x (up the spine) points backwards, against the feet and the walking direction."""
    walk = clips["walk"]
    normal = np.cross(walk[:, J["r_hip"]] - walk[:, J["l_hip"]], walk[:, J["thorax"]] - walk[:, J["pelvis"]])
    toes = (walk[:, J["r_toe"]] + walk[:, J["l_toe"]]) / 2
    ankles = (walk[:, J["r_ankle"]] + walk[:, J["l_ankle"]]) / 2
    facing = (toes - ankles)[:, :2]  # the pelvis-to-toes direction swings with the stride; the feet do not
    assert np.mean(np.sum(normal[:, :2] * facing, axis=1) < 0) > 0.9
    travel = walk[-1, J["pelvis"], :2] - walk[0, J["pelvis"], :2]
    assert np.linalg.norm(travel) > 1.0
    assert np.mean(normal[:, :2] @ travel < 0) > 0.9


# ---- rebuilding the committed arrays ----


def pybullet_source() -> Path | None:
    wheel = os.environ.get("POSEBENCH_PYBULLET_WHEEL")
    if wheel and Path(wheel).is_file():
        return Path(wheel)
    spec = importlib.util.find_spec("pybullet_data")
    return Path(spec.origin).parent if spec and spec.origin else None


def test_rebuild_matches_the_committed_file(tmp_path, asset):
    source = pybullet_source()
    if source is None:
        pytest.skip("no pybullet_data package and no wheel at $POSEBENCH_PYBULLET_WHEEL")
    output = tmp_path / "rebuilt.npz"
    dc.main([str(source), "-o", str(output)])
    with np.load(output, allow_pickle=False) as rebuilt:
        assert sorted(rebuilt.files) == sorted(asset)
        for key in rebuilt.files:
            if asset[key].dtype.kind == "f":
                np.testing.assert_allclose(rebuilt[key], asset[key], atol=1e-5, rtol=0, err_msg=key)
            else:
                np.testing.assert_array_equal(rebuilt[key], asset[key], err_msg=key)
