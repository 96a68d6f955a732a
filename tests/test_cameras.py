import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from harness.cameras import H36M_CAMERA_IDS, H36M_SUBJECTS, h36m_cameras

REFERENCE = Path(os.environ.get("POSEBENCH_REFERENCE_DATA", Path(__file__).resolve().parents[2] / "shared" / "reference-data"))


def test_every_subject_has_the_four_rigs_with_sane_values():
    rigs = h36m_cameras()
    assert set(rigs) == set(H36M_SUBJECTS)
    for subject in H36M_SUBJECTS:
        assert tuple(rigs[subject]) == H36M_CAMERA_IDS
        for cam in rigs[subject].values():
            np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-9)
            assert np.linalg.det(cam.R) == pytest.approx(1.0, abs=1e-9)
            assert 1140 < cam.f[0] < 1155 and 1140 < cam.f[1] < 1155
            assert abs(cam.c[0] - cam.width / 2) < 20 and abs(cam.c[1] - cam.height / 2) < 20
            assert 1400 < cam.center_mm[2] < 1700  # cameras hang at about 1.5 m in a z-up world
    assert (h36m_cameras()["S1"]["54138969"].width, h36m_cameras()["S1"]["54138969"].height) == (1000, 1002)


def test_world_camera_round_trip_and_centre_maps_to_origin():
    cam = h36m_cameras()["S11"]["58860488"]
    pts = np.random.default_rng(1).normal(size=(100, 3)) * 2000
    np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(pts)), pts, atol=1e-9)
    np.testing.assert_allclose(cam.world_to_camera(cam.center_mm), 0.0, atol=1e-9)


def test_pinhole_projection_is_k_times_normalised_point():
    cam = h36m_cameras()["S9"]["55011271"]
    p = np.array([[120.0, -340.0, 4500.0]])
    expected = (cam.intrinsic_matrix @ (p[0] / p[0, 2]))[:2]
    np.testing.assert_allclose(cam.project(p, distort=False)[0], expected, atol=1e-9)


def test_distortion_matches_a_hand_computation():
    cam = h36m_cameras()["S9"]["54138969"]
    x, y = 0.2, -0.1
    r2 = x * x + y * y
    radial = 1 + cam.k[0] * r2 + cam.k[1] * r2**2 + cam.k[2] * r2**3
    # The dataset's model: tangential (q1, q2) = (p2, p1) of the OpenCV-ordered coefficients.
    q1, q2 = cam.p[1], cam.p[0]
    xd = x * (radial + q1 * x + q2 * y) + q1 * r2
    yd = y * (radial + q1 * x + q2 * y) + q2 * r2
    expected = np.array([cam.f[0] * xd + cam.c[0], cam.f[1] * yd + cam.c[1]])
    np.testing.assert_allclose(cam.project(np.array([x * 3000, y * 3000, 3000.0])), expected, atol=1e-9)
    # Distortion moves a point near the image corner by pixels, the principal point not at all.
    centre = cam.project(np.array([0.0, 0.0, 3000.0]))
    np.testing.assert_allclose(centre, cam.c, atol=1e-9)


def test_all_four_cameras_look_at_one_capture_volume():
    for subject in ("S9", "S11"):
        rigs = h36m_cameras()[subject]
        a, b = np.zeros((3, 3)), np.zeros(3)
        for cam in rigs.values():
            proj = np.eye(3) - np.outer(cam.R[2], cam.R[2])
            a, b = a + proj, b + proj @ cam.center_mm
        target = np.linalg.solve(a, b)
        for cam in rigs.values():
            to_target = target - cam.center_mm
            miss = np.linalg.norm(to_target - (to_target @ cam.R[2]) * cam.R[2])
            assert miss < 800.0  # every optical axis passes within 0.8 m of the common point


@pytest.mark.skipif(not (REFERENCE / "mmpose-h36m" / "test_h36m_body3d.npz").is_file(), reason="reference-data not beside the checkout")
def test_reprojection_of_real_frames_matches_the_dataset_2d():
    """Real Human3.6M frames (development fixtures, never copied into the repo): 3D camera GT -> 2D GT."""
    data = np.load(REFERENCE / "mmpose-h36m" / "test_h36m_body3d.npz")
    rigs = h36m_cameras()
    worst = 0.0
    for name, s, part in zip(data["imgname"], data["S"], data["part"]):
        subject, cam_id = name.split("/")[0], name.split(".")[1].split("/")[0]
        uv = rigs[subject][cam_id].project(s[:, :3] * 1000.0)
        worst = max(worst, float(np.linalg.norm(uv - part[:, :2], axis=1).max()))
    assert worst < 1e-3, f"max reprojection error {worst} px"


@pytest.mark.skipif(not (REFERENCE / "mmpose-h36m" / "cameras.pkl").is_file(), reason="reference-data not beside the checkout")
def test_extrinsics_agree_with_the_independent_mmpose_tabulation():
    with open(REFERENCE / "mmpose-h36m" / "cameras.pkl", "rb") as fh:
        other = pickle.load(fh)  # a trusted development fixture
    pts = np.random.default_rng(2).normal(size=(200, 3)) * 2000
    for subject, rigs in h36m_cameras().items():
        for cam_id, cam in rigs.items():
            ref = other[(subject, cam_id)]
            expected = (pts / 1000.0 - ref["T"].ravel()) @ ref["R"] * 1000.0
            np.testing.assert_allclose(cam.world_to_camera(pts), expected, atol=1e-6)
            np.testing.assert_allclose(cam.k, ref["k"].ravel(), atol=1e-12)
            np.testing.assert_allclose(cam.p, ref["p"].ravel(), atol=1e-12)
            assert (cam.width, cam.height) == (ref["w"], ref["h"])
