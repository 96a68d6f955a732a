"""The demo dataset written by `harness demo`: real formats, real cameras, honest labels."""

import json

import numpy as np

from harness.cameras import H36M_CAMERA_IDS, h36m_cameras
from harness.demo.h36m import BODIES, NOISE_PX, OUTLIER_RATE, load_clips, subject_motion
from harness.skeletons import H36M17, H36M32, H36M32_TO_17
from tests.conftest import REPO


def test_files_are_the_released_layout(demo_root):
    d = demo_root / "demo" / "h36m"
    with np.load(d / "data_3d_h36m.npz", allow_pickle=True) as z:
        assert z.files == ["positions_3d"]
        pos = z["positions_3d"].item()
    assert set(pos) == {"S1", "S5", "S6", "S7", "S8", "S9", "S11"}
    clip = pos["S9"]["walk"]
    assert clip.dtype == np.float32 and clip.shape[1:] == (32, 3)
    with np.load(d / "data_2d_h36m_gt.npz", allow_pickle=True) as z:
        assert set(z.files) == {"positions_2d", "metadata"}
        two_d = z["positions_2d"].item()
        assert z["metadata"].item()["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]
    views = two_d["S9"]["walk"]
    assert len(views) == 4 and all(v.shape == (len(clip), 17, 2) for v in views)
    marker = json.loads((d / "POSEBENCH_DEMO.json").read_text())
    assert marker["demo"] is True and len(marker["actions"]) == 15


def test_gt_2d_is_the_distorted_projection_and_noisy_2d_is_noisier(demo_root):
    d = demo_root / "demo" / "h36m"
    with np.load(d / "data_3d_h36m.npz", allow_pickle=True) as z:
        world = z["positions_3d"].item()["S11"]["kick"][:, H36M32_TO_17].astype(np.float64) * 1000.0
    with np.load(d / "data_2d_h36m_gt.npz", allow_pickle=True) as z:
        gt = z["positions_2d"].item()["S11"]["kick"]
    with np.load(d / "data_2d_h36m_gt_noisy.npz", allow_pickle=True) as z:
        noisy = z["positions_2d"].item()["S11"]["kick"]
    for c, cam_id in enumerate(H36M_CAMERA_IDS):
        cam = h36m_cameras()["S11"][cam_id]
        np.testing.assert_allclose(gt[c], cam.project(cam.world_to_camera(world)), atol=1e-3)
        dev = np.linalg.norm(noisy[c] - gt[c], axis=-1)
        # Median of a 2-D Gaussian radius is sigma * sqrt(2 ln 2) ~ 1.18 sigma.
        assert 0.9 * NOISE_PX < np.median(dev) < 1.5 * NOISE_PX
    assert 0 < OUTLIER_RATE < 0.1


def test_people_stand_in_front_of_every_camera_and_mostly_inside_the_image(demo_test):
    assert demo_test.gt3d[..., 2].min() > 1000.0  # at least a metre in front of the lens
    kp = demo_test.inputs_2d["gt"]
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < 1000) & (kp[..., 1] >= 0) & (kp[..., 1] < 1000)
    assert inside.mean() > 0.99


def test_subjects_have_their_own_bodies():
    clips = load_clips()
    rigs = h36m_cameras()
    bones = H36M32.bones()
    lengths = {}
    for subject in ("S1", "S9"):
        m = subject_motion(clips["walk"], subject, rigs[subject]).astype(np.float64)
        b = np.linalg.norm(m[:, bones[:, 0]] - m[:, bones[:, 1]], axis=-1)
        np.testing.assert_allclose(b, b[:1].repeat(len(b), 0), atol=1e-5)  # rigid bones over time
        lengths[subject] = b[0]
    assert not np.allclose(lengths["S1"], lengths["S9"], rtol=0.01)
    thigh = list(H36M32.names).index("r_knee")
    assert lengths["S9"][thigh] / lengths["S1"][thigh] > 1.0  # S9 is the larger body
    assert BODIES["S9"].mirrored and not BODIES["S1"].mirrored


def test_demo_is_labelled_and_loads_without_missing_parts(demo_test):
    assert demo_test.is_demo and demo_test.missing == []
    assert set(demo_test.sequences["subject"]) == {"S9", "S11"}
    assert demo_test.joint_set == H36M17.name


def test_committed_examples_cover_exactly_the_demo_test_set(demo_test):
    for name in ("demo_gt_noise.npz", "demo_mean_pose.npz"):
        with np.load(REPO / "submissions" / "examples" / name, allow_pickle=False) as z:
            np.testing.assert_array_equal(z["sample_id"], demo_test.sample_id)
            assert z["pose3d"].shape == demo_test.gt3d.shape
