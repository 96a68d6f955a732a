"""3DPW: the loader on small pickles in the released layout, the 24-joint benchmark, the demo split."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.benchmarks import BENCHMARKS, default_benchmarks, score
from harness.cli import app
from harness.config import DatasetConfig
from harness.demo.pw3d import smpl24_from_h36m32, write_demo_3dpw
from harness.datasets.pw3d import POSES2D_JOINTS, load_3dpw
from harness.errors import DatasetUnavailable
from harness.results import ResultFile
from harness.skeletons import H36M17, H36M32, SMPL24

RNG = np.random.default_rng(8)


K = np.array([[1500.0, 0.0, 540.0], [0.0, 1510.0, 960.0], [0.0, 0.0, 1.0]])


def write_sequence(folder: Path, name: str, n: int, n_actors: int = 1, drop: tuple[str, ...] = (), **extra: object) -> dict:
    """A sequence pickle with the released keys the loader reads; poses2d as OpenPose stores it, (n, 3, 18)."""
    folder.mkdir(parents=True, exist_ok=True)
    cams = np.tile(np.eye(4), (n, 1, 1))
    cams[:, :3, 3] = [0.1, -0.2, 4.0]  # world -> camera: a pure translation
    poses2d = [np.concatenate([RNG.uniform(0, 1000, (n, 2, 18)), RNG.uniform(0.1, 1.0, (n, 1, 18))], axis=1) for _ in range(n_actors)]
    data = {
        "sequence": name,
        "jointPositions": [RNG.normal(scale=0.3, size=(n, 72)) for _ in range(n_actors)],
        "cam_poses": cams,
        "cam_intrinsics": K,
        "campose_valid": [np.arange(n) % 4 != 0 for _ in range(n_actors)],
        "poses2d": poses2d,
        "genders": ["m"] * n_actors,
        **extra,
    }
    for key in drop:
        del data[key]
    with open(folder / f"{name}.pkl", "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return data


def cfg(root: Path) -> DatasetConfig:
    return DatasetConfig(format="3dpw", path=root)


def test_camera_frame_ground_truth_ids_and_valid_frames(tmp_path):
    folder = tmp_path / "sequenceFiles" / "test"
    a = write_sequence(folder, "outdoors_a_00", 8, n_actors=2)
    write_sequence(folder, "outdoors_b_01", 5)
    test = load_3dpw(cfg(tmp_path))
    assert len(test) == 2 * 6 + 3 and test.joint_set == "smpl24" and test.root == 0  # frames 0 and 4 have no valid pose
    assert test.sample_id[0] == "outdoors_a_00/0/00001"  # frame 0 has no valid camera pose
    assert "outdoors_a_00/1/00007" in set(test.sample_id)
    expected = (a["jointPositions"][0][1].reshape(24, 3) + [0.1, -0.2, 4.0]) * 1000.0
    np.testing.assert_allclose(test.gt3d[0], expected)
    assert list(test.sequences["name"]) == ["outdoors_a_00/0", "outdoors_a_00/1", "outdoors_b_01/0"]


@pytest.mark.parametrize("drop", ["jointPositions", "cam_poses", "campose_valid"])
def test_a_pickle_without_a_needed_key_is_unavailable(tmp_path, drop):
    write_sequence(tmp_path / "sequenceFiles" / "test", "broken_00", 4, drop=(drop,))
    with pytest.raises(DatasetUnavailable, match=f"no '{drop}'"):
        load_3dpw(cfg(tmp_path))


def test_broken_and_missing_files(tmp_path):
    with pytest.raises(DatasetUnavailable, match="no .pkl files"):
        load_3dpw(cfg(tmp_path))
    folder = tmp_path / "sequenceFiles" / "test"
    folder.mkdir(parents=True)
    (folder / "x.pkl").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DatasetUnavailable, match="not a readable 3DPW sequence pickle"):
        load_3dpw(cfg(tmp_path))


def test_benchmark_headline_is_pa_mpjpe_and_a_rigid_motion_is_forgiven(tmp_path):
    write_sequence(tmp_path / "sequenceFiles" / "test", "seq_00", 12, n_actors=2)
    test = load_3dpw(cfg(tmp_path))
    c, s = np.cos(0.4), np.sin(0.4)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    pred = test.gt3d @ rot.T * 1.1 + 50.0
    out = score(BENCHMARKS["3dpw"], test, pred)
    value = {e.metric: e for e in out.results}
    assert [e.metric for e in out.results] == ["p_mpjpe", "mpjpe"]
    assert value["p_mpjpe"].value < 1e-6 and value["mpjpe"].value > 10
    assert value["mpjpe"].joints == "smpl24" and value["mpjpe"].gt == "jointPositions"
    assert [b.id for b in default_benchmarks("3dpw")] == ["3dpw"]


def test_smpl_joints_from_the_demo_layout():
    motion = RNG.normal(size=(3, len(H36M32), 3))
    smpl = smpl24_from_h36m32(motion)
    assert smpl.shape == (3, 24, 3)
    np.testing.assert_allclose(smpl[:, SMPL24.index["l_knee"]], motion[:, H36M32.index["l_knee"]])
    np.testing.assert_allclose(smpl[:, SMPL24.index["l_collar"]], 0.5 * (motion[:, H36M32.index["thorax"]] + motion[:, H36M32.index["l_shoulder"]]))


def test_demo_split_evaluates_end_to_end(tmp_path):
    write_demo_3dpw(tmp_path)
    test = load_3dpw(cfg(tmp_path / "demo" / "3dpw"))
    assert test.is_demo and len(test) > 300 and test.gt3d[..., 2].min() > 1000.0  # everyone in front of the camera
    sub = tmp_path / "sub.npz"
    np.savez(sub, pose3d=test.gt3d.astype(np.float32), sample_id=test.sample_id, dataset=np.array("3dpw"), joint_set=np.array("smpl24"))
    yaml = tmp_path / "d.yaml"
    yaml.write_text(f"data_root: {tmp_path}\ndatasets:\n  3dpw: {{format: 3dpw, path: {tmp_path}/demo/3dpw}}\n")
    res = CliRunner().invoke(app, ["evaluate", str(sub), "--datasets", str(yaml), "--no-ci"])
    assert res.exit_code == 0 and "3dpw [DEMO DATA]" in res.output and "p_mpjpe" in res.output
    # An H36M-17 submission is scored on the 13 joints both sets share, and the result says which.
    shared = [n for n in H36M17.names if n in SMPL24.index]
    h36m_pose = np.zeros((len(test), 17, 3), np.float32)
    h36m_pose[:, H36M17.subset(shared)] = test.gt3d[:, SMPL24.subset(shared)]
    h36m_pose[:, H36M17.subset(["spine", "thorax", "head", "head_top"])] = 1e4 * 0  # joints SMPL lacks: ignored
    h36m = tmp_path / "h36m.npz"
    np.savez(h36m, pose3d=h36m_pose, sample_id=test.sample_id, dataset=np.array("3dpw"))
    out = tmp_path / "h36m.json"
    res = CliRunner().invoke(app, ["evaluate", str(h36m), "--datasets", str(yaml), "--no-ci", "--json", str(out)])
    assert res.exit_code == 0, res.output
    result = ResultFile.model_validate_json(out.read_text())
    entry = result.entry("3dpw", "mpjpe")
    assert entry.joints == "smpl24&h36m17" and entry.value < 1e-3 and len(shared) == 13
    assert any("13 joints the submission shares" in n for n in result.notes["3dpw"])


# ------------------------------------------------------------------ the SMPL-mesh (LSP-14) protocol


def random_smpl(folder: Path) -> dict[str, np.ndarray]:
    """A random model with SMPL's array shapes (never the licensed files) and a random H36M regressor."""
    folder.mkdir(parents=True, exist_ok=True)
    n_verts = 6890
    weights = RNG.random((n_verts, 24))
    j_reg = RNG.random((24, n_verts))
    kintree = np.array([[2**32 - 1] + list(SMPL24.parents[1:]), list(range(24))], dtype=np.int64)
    model = {
        "v_template": RNG.normal(scale=0.3, size=(n_verts, 3)), "shapedirs": RNG.normal(scale=0.01, size=(n_verts, 3, 10)),
        "posedirs": RNG.normal(scale=0.001, size=(n_verts, 3, 207)), "J_regressor": j_reg / j_reg.sum(1, keepdims=True),
        "weights": weights / weights.sum(1, keepdims=True), "kintree_table": kintree, "f": RNG.integers(0, n_verts, (13776, 3)),
    }
    for gender in ("NEUTRAL", "MALE", "FEMALE"):
        np.savez(folder / f"SMPL_{gender}.npz", **model)
    # Each joint averages a few vertices, as the real regressor does, so joints stay a body's width apart.
    reg = np.zeros((17, n_verts))
    for j in range(17):
        reg[j, RNG.choice(n_verts, 4, replace=False)] = 0.25
    np.save(folder / "J_regressor_h36m.npy", reg)
    return {"v_template": model["v_template"], "regressor": reg}


def smpl_sequence(folder: Path, n: int) -> dict:
    data = write_sequence(folder, "smpl_00", n)
    data.update(poses=[np.zeros((n, 72))], trans=[np.tile([0.5, 0.0, 0.2], (n, 1))], betas=[np.zeros(10)], genders=["f"])
    with open(folder / "smpl_00.pkl", "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return data


def test_mesh_protocol_regresses_h36m17_from_the_smpl_mesh(tmp_path):
    assets = random_smpl(tmp_path / "smpl")
    smpl_sequence(tmp_path / "sequenceFiles" / "test", 6)
    config = DatasetConfig(format="3dpw", path=tmp_path, smpl_model_dir=tmp_path / "smpl")
    test = load_3dpw(config, gt="smpl-mesh-h36m17")
    assert test.joint_set == "h36m17" and test.gt_variant == "smpl-mesh-h36m17" and not test.partial_joints_ok
    # Zero pose and shape: the mesh is the template moved by trans; the camera adds its translation.
    expected = (assets["regressor"] @ assets["v_template"] + [0.5, 0.0, 0.2] + [0.1, -0.2, 4.0]) * 1000.0
    np.testing.assert_allclose(test.gt3d[0], expected, atol=1e-2)
    with pytest.raises(DatasetUnavailable, match="needs smpl_model_dir"):
        load_3dpw(cfg(tmp_path), gt="smpl-mesh-h36m17")
    (tmp_path / "smpl" / "J_regressor_h36m.npy").unlink()
    with pytest.raises(DatasetUnavailable, match="J_regressor_h36m.npy not found"):
        load_3dpw(config, gt="smpl-mesh-h36m17")


def test_lsp14_protocol_centres_on_the_pelvis_and_scores_14_joints(tmp_path):
    random_smpl(tmp_path / "smpl")
    smpl_sequence(tmp_path / "sequenceFiles" / "test", 6)
    yaml = tmp_path / "d.yaml"
    yaml.write_text(f"data_root: {tmp_path}\ndatasets:\n  3dpw: {{format: 3dpw, path: {tmp_path}, smpl_model_dir: {tmp_path}/smpl}}\n")
    test = load_3dpw(DatasetConfig(format="3dpw", path=tmp_path, smpl_model_dir=tmp_path / "smpl"), gt="smpl-mesh-h36m17")
    pred = test.gt3d.copy()
    pred[:, H36M17.index["l_wrist"], 1] += 70.0
    sub = tmp_path / "h36m.npz"
    np.savez(sub, pose3d=pred.astype(np.float32), sample_id=test.sample_id, dataset=np.array("3dpw"))
    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["evaluate", str(sub), "--datasets", str(yaml), "--no-ci", "--json", str(out)])
    assert res.exit_code == 0, res.output
    result = ResultFile.model_validate_json(out.read_text())
    entry = result.entry("3dpw-lsp14", "mpjpe")
    assert entry.joints == "lsp14" and entry.gt == "smpl-mesh-h36m17"
    assert entry.value == pytest.approx(70.0 / 14, abs=1e-3)  # one of 14 joints off by 70 mm, pelvis untouched
    assert result.entry("3dpw", "mpjpe").joints == "smpl24&h36m17"  # the 24-joint protocol on the shared joints
    assert BENCHMARKS["3dpw-lsp14"].needs_smpl and [b.id for b in default_benchmarks("3dpw", True)] == ["3dpw", "3dpw-lsp14"]


def test_template_for_3dpw_has_ids_intrinsics_and_both_2d_sources(tmp_path):
    write_demo_3dpw(tmp_path)
    yaml = tmp_path / "d.yaml"
    yaml.write_text(f"data_root: {tmp_path}\ndatasets:\n  3dpw: {{format: 3dpw, path: {tmp_path}/demo/3dpw}}\n")
    out = tmp_path / "t.npz"
    res = CliRunner().invoke(app, ["template", "3dpw", "-o", str(out), "--datasets", str(yaml)])
    assert res.exit_code == 0, res.output
    assert "2D sources poses2d, gt" in res.output
    test = load_3dpw(cfg(tmp_path / "demo" / "3dpw"))
    with np.load(out, allow_pickle=False) as z:
        assert z["dataset"] == "3dpw" and z["camera_f"].shape == (4, 2) and (z["camera_index"] >= 0).all()
        assert z["sample_id"][0].count("/") == 2
        assert z["input_2d_poses2d"].shape == (len(test), 18, 3) and z["input_2d_gt"].shape == (len(test), 24, 2)
        assert tuple(z["input_2d_poses2d_joint_names"]) == POSES2D_JOINTS and tuple(z["input_2d_gt_joint_names"]) == SMPL24.names
        np.testing.assert_array_equal(z["input_2d_poses2d"], test.inputs_2d["poses2d"])  # NaN where nothing was detected
        assert np.isnan(z["input_2d_poses2d"][..., 0]).all(axis=1).any()
        # Every sequence's camera: f and c of its cam_intrinsics, no distortion, the portrait 1080 x 1920 image.
        seq = next((tmp_path / "demo" / "3dpw" / "sequenceFiles" / "test").glob("*.pkl"))
        with open(seq, "rb") as fh:
            k = pickle.load(fh, encoding="latin1")["cam_intrinsics"]
        np.testing.assert_array_equal(z["camera_f"], np.tile([k[0, 0], k[1, 1]], (4, 1)))
        np.testing.assert_array_equal(z["camera_c"], np.tile([k[0, 2], k[1, 2]], (4, 1)))
        assert (z["camera_size"] == [1080, 1920]).all() and not z["camera_k"].any() and not z["camera_p"].any()


# ------------------------------------------------------------------ 2D inputs


def pixels(data: dict, actor: int, frames: np.ndarray, joints: np.ndarray | None = None) -> np.ndarray:
    """An independent projection: homogeneous world points through each frame's 4x4 camera, then K by hand."""
    world = (joints if joints is not None else np.asarray(data["jointPositions"][actor]).reshape(-1, 24, 3))[frames]
    homo = np.concatenate([world, np.ones(world.shape[:-1] + (1,))], axis=-1)
    cam = np.matmul(np.asarray(data["cam_poses"])[frames][:, None], homo[..., None])[..., :3, 0]
    k = np.asarray(data["cam_intrinsics"])
    return np.stack([k[0, 0] * cam[..., 0] / cam[..., 2] + k[0, 2], k[1, 1] * cam[..., 1] / cam[..., 2] + k[1, 2]], axis=-1)


def test_gt_2d_is_the_ground_truth_projected_through_each_frames_camera(tmp_path):
    write_demo_3dpw(tmp_path)
    root = tmp_path / "demo" / "3dpw"
    test = load_3dpw(cfg(root))
    assert test.inputs_2d["gt"].dtype == np.float32 and test.inputs_2d["gt"].shape == (len(test), 24, 2)
    checked = 0
    for path in sorted((root / "sequenceFiles" / "test").glob("*.pkl")):
        with open(path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")
        for actor in range(len(data["jointPositions"])):
            row = test.sequences.set_index("name").loc[f"{data['sequence']}/{actor}"]
            frames = np.flatnonzero(data["campose_valid"][actor])
            got = test.inputs_2d["gt"][row["start"] : row["start"] + row["length"]]
            np.testing.assert_allclose(got, pixels(data, actor, frames), atol=2e-3)  # float32 pixels
            checked += len(frames)
    assert checked == len(test)
    # The camera moves, so a loader projecting through one frame's camera would not match.
    assert not np.allclose(data["cam_poses"][frames[0]], data["cam_poses"][frames[-1]], atol=1e-3)


def test_poses2d_is_read_in_the_released_layout_with_missed_joints_marked(tmp_path):
    folder = tmp_path / "sequenceFiles" / "test"
    data = write_sequence(folder, "seq_00", 8, n_actors=2)
    raw = data["poses2d"]
    raw[1][5] = 0.0  # actor 1, frame 5: fewer than 6 joints, released as all zeros
    raw[0][2][:, 7] = 0.0  # actor 0, frame 2: OpenPose missed joint 7 (l_wrist)
    write_sequence(folder, "seq_00", 8, n_actors=2, poses2d=raw, jointPositions=data["jointPositions"])
    test = load_3dpw(cfg(tmp_path))
    kp = test.inputs_2d["poses2d"]
    assert kp.shape == (len(test), 18, 3) and kp.dtype == np.float32 and test.input_2d_joints["poses2d"] == POSES2D_JOINTS
    at = {sid: i for i, sid in enumerate(test.sample_id)}
    np.testing.assert_allclose(kp[at["seq_00/0/00001"]], raw[0][1].T, rtol=1e-6)  # (3, 18) per frame -> (18, 3)
    assert np.isnan(kp[at["seq_00/0/00002"], 7, :2]).all() and kp[at["seq_00/0/00002"], 7, 2] == 0
    assert np.isfinite(kp[at["seq_00/0/00002"], 6]).all()
    assert np.isnan(kp[at["seq_00/1/00005"], :, :2]).all() and (kp[at["seq_00/1/00005"], :, 2] == 0).all()
    labels = test.sample_labels["poses2d"]
    assert labels[at["seq_00/1/00005"]] == "missing" and (labels == "missing").sum() == 1 and labels[at["seq_00/0/00002"]] == "detected"
    assert any("1 scored frames have no OpenPose detection" in n for n in test.notes)
    assert set(test.inputs_2d) == {"poses2d", "gt"}


def test_poses2d_of_the_wrong_shape_is_one_line_naming_file_and_field(tmp_path):
    folder = tmp_path / "sequenceFiles" / "test"
    write_sequence(folder, "seq_00", 6, poses2d=[np.zeros((6, 18, 3))])  # transposed: not the released layout
    with pytest.raises(DatasetUnavailable, match=r"seq_00.pkl: poses2d\[0\] has shape \(6, 18, 3\), expected \(6, 3, 18\)"):
        load_3dpw(cfg(tmp_path))


def test_intrinsics_image_size_follows_the_principal_point(tmp_path):
    landscape = np.array([[1900.0, 0.0, 960.0], [0.0, 1900.0, 540.0], [0.0, 0.0, 1.0]])
    write_sequence(tmp_path / "sequenceFiles" / "test", "wide_00", 4, cam_intrinsics=landscape)
    test = load_3dpw(cfg(tmp_path))
    assert test.intrinsics["wide_00"] == {"f": [1900.0, 1900.0], "c": [960.0, 540.0], "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "size": [1920, 1080]}
    write_sequence(tmp_path / "sequenceFiles" / "test", "wide_00", 4, cam_intrinsics=np.eye(2))
    with pytest.raises(DatasetUnavailable, match="wide_00.pkl: cam_intrinsics must be a finite 3x3 K"):
        load_3dpw(cfg(tmp_path))


def test_a_copy_without_poses2d_still_serves_the_gt_source(tmp_path):
    write_sequence(tmp_path / "sequenceFiles" / "test", "old_00", 4, drop=("poses2d",))
    test = load_3dpw(cfg(tmp_path))
    assert set(test.inputs_2d) == {"gt"} and "poses2d" not in test.sample_labels
    with pytest.raises(DatasetUnavailable, match="old_00.pkl: no 'poses2d'"):
        load_3dpw(cfg(tmp_path), inputs_2d=["poses2d"])
    with pytest.raises(DatasetUnavailable, match="no 2D source 'cpn'"):
        load_3dpw(cfg(tmp_path), inputs_2d=["cpn"])


def test_demo_poses2d_is_a_noisy_openpose_like_detection_of_the_demo_joints(tmp_path):
    write_demo_3dpw(tmp_path)
    path = sorted((tmp_path / "demo" / "3dpw" / "sequenceFiles" / "test").glob("*.pkl"))[0]
    with open(path, "rb") as fh:
        data = pickle.load(fh, encoding="latin1")
    raw = np.asarray(data["poses2d"][0])
    n = len(data["cam_poses"])
    assert raw.shape == (n, 3, 18)
    conf = raw[:, 2]
    zero_frames = (raw == 0).all(axis=(1, 2))
    assert 0 < zero_frames.sum() < 0.3 * n and (conf[~zero_frames] > 0).sum(axis=1).min() >= 6
    assert ((conf == 0) == (raw[:, :2] == 0).all(axis=1)).all() and conf.max() <= 1.0
    # Detected limb joints lie a few pixels from the projection of the same SMPL joints.
    shared = [name for name in POSES2D_JOINTS if name in SMPL24.index and name != "nose"]
    truth = pixels(data, 0, np.arange(n))[:, SMPL24.subset(shared)]
    det = raw.transpose(0, 2, 1)[:, [POSES2D_JOINTS.index(s) for s in shared]]
    seen = det[..., 2] > 0
    err = np.linalg.norm(det[..., :2] - truth, axis=-1)[seen]
    assert 2.0 < err.mean() < 12.0 and err.max() < 40.0


def test_3dpw_2d_sources_are_built_in_not_configured(tmp_path):
    yaml = tmp_path / "d.yaml"
    yaml.write_text(f"data_root: {tmp_path}\ndatasets:\n  3dpw: {{format: 3dpw, path: {tmp_path}, inputs_2d: {{cpn: x.npz}}}}\n")
    res = CliRunner().invoke(app, ["template", "3dpw", "-o", str(tmp_path / "t.npz"), "--datasets", str(yaml)])
    assert res.exit_code == 2 and "reads its 2D sources (poses2d, gt) from its own files; remove inputs_2d" in res.output
    entry = DatasetConfig(format="3dpw", path=tmp_path)
    assert entry.sources_2d() == ["poses2d", "gt"] == entry.present_inputs_2d()
