import numpy as np
import pytest

from harness.skeletons import H36M17, H36M32, H36M32_TO_17, LSP14, MPI_INF_3DHP17, PCK14_NAMES, SMPL24, common_joints, joint_map, joint_set


def test_h36m17_matches_the_published_layout():
    # VideoPose3D keeps these raw joints, and these parents after rewiring the shoulders to the thorax.
    assert H36M32_TO_17.tolist() == [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert list(H36M17.left) == [4, 5, 6, 11, 12, 13]
    assert list(H36M17.right) == [1, 2, 3, 14, 15, 16]


def test_3dhp_to_h36m_map_is_the_fields_convention():
    assert joint_map(MPI_INF_3DHP17, H36M17).tolist() == [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]
    assert MPI_INF_3DHP17.root == 14 and MPI_INF_3DHP17.names[14] == "pelvis"


def test_lsp14_from_h36m17_matches_spins_list_up_to_its_leg_order():
    # SPIN indexes its regressor output [6,5,4,1,2,3,16,15,14,11,12,13,8,10]; that output lists the left leg
    # at 1-3 and the right at 4-6, the reverse of VideoPose3D's H36M-17, so the legs swap here.
    spin = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]
    swap_legs = {1: 4, 2: 5, 3: 6, 4: 1, 5: 2, 6: 3}
    assert joint_map(H36M17, LSP14).tolist() == [swap_legs.get(i, i) for i in spin]


def test_pck14_is_the_official_3dhp_set():
    assert len(PCK14_NAMES) == 14
    assert {"pelvis", "spine", "head"}.isdisjoint(PCK14_NAMES)
    # In H36M-17 terms: everything but pelvis (0), spine (7) and Neck/Nose (9).
    assert sorted(H36M17.subset(PCK14_NAMES).tolist()) == [1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16]


def test_maps_round_trip_and_missing_joints_fail():
    pose = np.random.default_rng(0).normal(size=(5, 17, 3))
    as_3dhp = pose[:, joint_map(H36M17, MPI_INF_3DHP17)]
    np.testing.assert_array_equal(as_3dhp[:, joint_map(MPI_INF_3DHP17, H36M17)], pose)
    with pytest.raises(KeyError, match="smpl24 lacks"):
        joint_map(SMPL24, H36M17)
    assert set(common_joints(SMPL24, H36M17)) == {
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist"
    }


@pytest.mark.parametrize("js", [H36M17, H36M32, MPI_INF_3DHP17, SMPL24])
def test_every_tree_is_rooted_and_acyclic(js):
    assert js.parents[js.root] == -1
    for j in range(len(js)):
        seen, k = set(), j
        while k != -1:
            assert k not in seen
            seen.add(k)
            k = js.parents[k]
        assert js.root in seen


def test_flip_permutation_swaps_pairs_and_is_an_involution():
    perm = H36M17.flip_permutation()
    assert perm[1] == 4 and perm[4] == 1 and perm[0] == 0 and perm[16] == 13
    np.testing.assert_array_equal(perm[perm], np.arange(17))
    assert joint_set("smpl24") is SMPL24
    with pytest.raises(KeyError, match="unknown joint set"):
        joint_set("coco17")
