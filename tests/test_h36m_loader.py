"""The Human3.6M loader on small files written here in VideoPose3D's released layout."""

from pathlib import Path

import numpy as np
import pytest

from harness.cameras import H36M_CAMERA_IDS, h36m_cameras
from harness.config import DatasetConfig
from harness.datasets.h36m import ACTIONS, action_of, load_h36m
from harness.errors import DatasetUnavailable
from harness.skeletons import H36M32_TO_17

LENGTHS = {"S9": {"Walking 1": 6, "Walking": 5, "TakingPhoto": 4}, "S11": {"Walking": 3, "WalkingDog 1": 7}, "S1": {"Eating": 4}}


def _world(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 32, 3)) * 0.3 + np.array([0.0, 0.0, 1.0])).astype(np.float32)


def write_files(root: Path, lengths=LENGTHS, extra_2d: int = 0, short_2d: bool = False) -> tuple[dict, dict]:
    pos3d = {s: {a: _world(n, i * 10 + j) for j, (a, n) in enumerate(acts.items())} for i, (s, acts) in enumerate(lengths.items())}
    pos2d = {
        s: {a: [np.full((len(w) + extra_2d - (2 if short_2d else 0), 17, 2), float(c), np.float32) for c in range(4)] for a, w in acts.items()}
        for s, acts in pos3d.items()
    }
    np.savez_compressed(root / "data_3d_h36m.npz", positions_3d=pos3d)
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(root / "data_2d_h36m_cpn_ft_h36m_dbb.npz", positions_2d=pos2d, metadata=meta)
    return pos3d, pos2d


def cfg(root: Path) -> DatasetConfig:
    return DatasetConfig(format="videopose3d", path=root, inputs_2d={"cpn": "data_2d_h36m_cpn_ft_h36m_dbb.npz"})


def test_test_index_ground_truth_and_ids(tmp_path):
    pos3d, _ = write_files(tmp_path)
    test = load_h36m(cfg(tmp_path), "test", inputs_2d=["cpn"])
    n_frames = sum(LENGTHS["S9"].values()) + sum(LENGTHS["S11"].values())
    assert len(test) == 4 * n_frames and test.gt3d.shape == (4 * n_frames, 17, 3)
    # Order: subject S9 then S11, action keys sorted, cameras in the released order, frames in time order.
    first = test.sequences.iloc[0]
    assert (first["subject"], first["action_key"], first["camera"]) == ("S9", "TakingPhoto", H36M_CAMERA_IDS[0])
    assert first["action"] == "Photo"
    assert test.sample_id[0] == "S9/TakingPhoto/54138969/000000"
    assert test.sample_id[-1] == "S11/WalkingDog 1/60457274/000006"
    # Camera-frame ground truth in mm from world metres through the subject's own rig.
    row = test.sequences.set_index("name").loc["S11/Walking/58860488"]
    cam = h36m_cameras()["S11"]["58860488"]
    expected = cam.world_to_camera(pos3d["S11"]["Walking"][:, H36M32_TO_17].astype(np.float64) * 1000.0)
    np.testing.assert_allclose(test.gt3d[row["start"] : row["start"] + row["length"]], expected, atol=1e-6)
    # 2D inputs: camera c of each sequence holds the value c in our files.
    assert np.all(test.inputs_2d["cpn"][row["start"] : row["start"] + row["length"]] == 2.0)
    assert test.seq_start.sum() == len(test.sequences) and test.seq_start[0]
    assert not test.is_demo


def test_missing_subjects_and_actions_are_reported_not_fatal(tmp_path):
    write_files(tmp_path)
    test = load_h36m(cfg(tmp_path), "test")
    assert "S9/Walking: 2 of 2 trials" not in test.missing
    assert "S11/Walking: 1 of 2 trials" in test.missing
    assert "S11/Directions: 0 of 2 trials" in test.missing
    assert sum(m.startswith("S9/") for m in test.missing) == len(ACTIONS) - 1  # only Walking has both trials
    train = load_h36m(cfg(tmp_path), "train")
    assert set(train.sequences["subject"]) == {"S1"} and "S5: not in data_3d_h36m.npz" in train.missing


def test_longer_2d_is_cut_and_shorter_2d_is_an_error(tmp_path):
    write_files(tmp_path, extra_2d=3)
    test = load_h36m(cfg(tmp_path), "test", inputs_2d=["cpn"])
    assert len(test.inputs_2d["cpn"]) == len(test)
    write_files(tmp_path, short_2d=True)
    with pytest.raises(DatasetUnavailable, match="expected"):
        load_h36m(cfg(tmp_path), "test", inputs_2d=["cpn"])


def test_missing_files_name_the_path(tmp_path):
    with pytest.raises(DatasetUnavailable, match=str(tmp_path / "data_3d_h36m.npz")):
        load_h36m(cfg(tmp_path), "test")
    write_files(tmp_path)
    (tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz").unlink()
    with pytest.raises(DatasetUnavailable, match="data_2d_h36m_cpn_ft_h36m_dbb.npz"):
        load_h36m(cfg(tmp_path), "test", inputs_2d=["cpn"])
    with pytest.raises(DatasetUnavailable, match="no 2D source 'sh'"):
        load_h36m(cfg(tmp_path), "test", inputs_2d=["sh"])


def test_no_test_subject_at_all_is_unavailable(tmp_path):
    write_files(tmp_path, lengths={"S1": {"Eating": 3}})
    with pytest.raises(DatasetUnavailable, match="none of the test subjects"):
        load_h36m(cfg(tmp_path), "test")


def test_action_names_follow_videopose3d():
    assert action_of("Walking 1") == "Walking"
    assert action_of("TakingPhoto 1") == "Photo" and action_of("WalkingDog") == "WalkDog"
    assert len(ACTIONS) == 15


def test_files_in_another_layout_are_refused(tmp_path):
    write_files(tmp_path)
    coco = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": [[1, 3], [2, 4]]}
    with np.load(tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", allow_pickle=True) as z:
        pos2d = z["positions_2d"].item()
    np.savez_compressed(tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", positions_2d=pos2d, metadata=coco)
    with pytest.raises(DatasetUnavailable, match="layout 'coco'"):
        load_h36m(cfg(tmp_path), "test", inputs_2d=["cpn"])
    np.savez_compressed(tmp_path / "data_3d_h36m.npz", positions_3d={"S9": {"Walking": np.zeros((4, 17, 3), np.float32)}})
    with pytest.raises(DatasetUnavailable, match=r"positions_3d\[S9\]\[Walking\] has shape \(4, 17, 3\), expected \(N, 32, 3\)"):
        load_h36m(cfg(tmp_path), "test")
