"""NLRD-2D's target adaptation (round-robin losses, each with its own optimiser, middle layers only), its
semi-supervised source setting, and the whole method end to end on the demo data (smoke config)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from baselines.common.config import load_config
from baselines.common.training import RoundRobin, distributed_run, fit
from baselines.nlrd.config import ADAPTATION_LOSSES, NLRDConfig
from baselines.nlrd.model import KeypointEncoder, MotionEncoder, PoseDecoder, PoseEncoder, bone_lengths, template_lengths
from baselines.nlrd.adaptation import KeypointNoise, info_nce
from baselines.nlrd.objectives import AdaptationObjective, SourceObjective
from baselines.nlrd.prior import VirtualCameras, on_template
from baselines.nlrd.relations import flip
from baselines.nlrd.train import Trained, build_relations, unpaired
from harness.datasets import load_dataset
from tests.baseline_runs import cli, records, scored_both_ways, train_smoke

T = 6  # frames of a window in these tests; clips are 2 T


def tiny(*overrides: str) -> tuple[NLRDConfig, AdaptationObjective]:
    torch.manual_seed(0)
    cfg = load_config(NLRDConfig, None, [f"motion.frames={T}", "motion.hidden=8", "motion.motion=8", "relations.width=16", *overrides])
    g2d, motion_encoder = KeypointEncoder(width=16, middle=1), MotionEncoder(8, 8)
    relations = build_relations(cfg, PoseEncoder(4), motion_encoder)
    return cfg, AdaptationObjective(g2d, motion_encoder, relations, cfg.adaptation)


def clips(n: int = 20) -> torch.Tensor:
    kp = torch.randn(n, 2 * T, 17, 2) * 0.1
    return kp - kp[:, :, :1]


def adapt(tmp_path: Path, objective: AdaptationObjective, cfg: NLRDConfig) -> dict[str, dict[str, torch.Tensor]]:
    """Run the adaptation stage on random clips; returns each part's parameters before it."""
    parts = {"first": objective.g2d.first, "middle": objective.g2d.middle, "last": objective.g2d.last, "pose_head": objective.pose_head,
             "motion_head": objective.motion_head, "motion_encoder": objective.motion_encoder, "relations": objective.relations}
    before = {name: {k: v.clone() for k, v in part.state_dict().items()} for name, part in parts.items()}
    with distributed_run(tmp_path, 0, "cpu", False) as run:
        fit("adaptation", objective, TensorDataset(clips()), cfg.adaptation, lambda m, b, e: m(*b), run, round_robin=RoundRobin(objective.groups()))
    return {name: all(torch.equal(v, parts[name].state_dict()[k]) for k, v in saved.items()) for name, saved in before.items()}


def test_one_loss_a_step_in_turn_each_with_its_own_optimiser(tmp_path):
    cfg, objective = tiny("adaptation.batch_size=4", "adaptation.max_steps=5", "adaptation.lr=1e-3", "adaptation.contrastive_lr=1e-3")
    unchanged = adapt(tmp_path, objective, cfg)
    assert unchanged == {"first": True, "middle": False, "last": True, "pose_head": False, "motion_head": False, "motion_encoder": True, "relations": True}
    (log,) = records(tmp_path)
    assert log["steps"] == 5 and all(f"l_{name}" in log for name in ADAPTATION_LOSSES) and "turn" not in log
    assert all(torch.isfinite(torch.tensor(log[f"l_{name}"])) for name in ADAPTATION_LOSSES)
    state = torch.load(tmp_path / "adaptation.ckpt", weights_only=False)
    assert int(state["model"]["step"]) == 5  # a resumed run goes on with the next loss
    optimisers = state["optimizers"]
    assert [o["param_groups"][0]["lr"] for o in optimisers] == [1e-3] * 5 and all(len(o["state"]) > 0 for o in optimisers)


@pytest.mark.parametrize("loss", ["flip", "pose_contrastive"])
def test_a_loss_trains_only_its_own_parameters(tmp_path, loss):
    """The relation losses move only G2D's middle layers; a contrastive loss also moves its own head."""
    cfg, objective = tiny("adaptation.batch_size=4", "adaptation.max_steps=2", f"adaptation.losses=[{loss}]", "adaptation.lr=1e-3", "adaptation.contrastive_lr=1e-3")
    unchanged = adapt(tmp_path, objective, cfg)
    assert unchanged["middle"] is False and unchanged["first"] and unchanged["last"] and unchanged["motion_head"]
    assert unchanged["pose_head"] is (loss != "pose_contrastive")
    assert set(k for k in records(tmp_path)[0] if k.startswith("l_")) == {f"l_{loss}"}


def test_only_slow_backward_reads_the_second_half_of_a_clip():
    """The window X is a clip's first T frames; the slow-backward relation spans all 2 T."""
    _, objective = tiny()
    x = clips(4)
    x[:, T:] = float("nan")
    with torch.no_grad():
        for name in ADAPTATION_LOSSES:
            value = getattr(objective, f"_{name}")(x[:, :T], x)
            assert bool(torch.isfinite(value)) == (name != "slow_backward"), name


def middle_gradient(objective: AdaptationObjective, loss: torch.Tensor) -> torch.Tensor:
    """The gradient of `loss` on G2D's middle layers, flattened (and cleared again)."""
    params = list(objective.g2d.middle.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)])


def test_the_flip_loss_trains_g2d_through_both_branches():
    """As the official loss1 (no stop-gradient on either side): the gradient is the anchor branch's plus the
    flipped branch's, and the flipped branch's part is not zero."""
    _, objective = tiny("adaptation.perturb=0")
    window = clips(4)[:, :T]
    g, pose = objective.g2d, objective.relations.pose
    both = middle_gradient(objective, objective._flip(window, window))
    anchor = middle_gradient(objective, (pose(g(window)) - g(flip(window)).detach()).abs().mean())
    flipped = middle_gradient(objective, (pose(g(window)).detach() - g(flip(window))).abs().mean())
    assert torch.allclose(both, anchor + flipped, atol=1e-7) and flipped.abs().sum() > 0


def test_motion_contrastive_positives_carry_no_gradient_to_g2d():
    """As the official loss4: the noised windows' codes are stopped before they reach G2D (the head still
    trains on them); the pose-contrastive positives are not stopped."""
    _, objective = tiny("adaptation.perturb=0")
    window = clips(8)[:, :T]
    torch.manual_seed(3)
    loss = objective._motion_contrastive(window, window)
    torch.manual_seed(3)
    positives = objective.motion(objective.noise(window)).detach()
    expected = info_nce(objective.motion_head(objective.motion(window)), objective.motion_head(positives))
    assert torch.allclose(loss, expected)
    assert torch.allclose(middle_gradient(objective, loss), middle_gradient(objective, expected), atol=1e-7)
    torch.manual_seed(3)
    pose_loss = objective._pose_contrastive(window, window)
    torch.manual_seed(3)
    noisy = objective.noise(window)[:, 0]
    detached = info_nce(objective.pose_head(objective.g2d.features(window[:, 0])), objective.pose_head(objective.g2d.features(noisy).detach()))
    assert not torch.allclose(middle_gradient(objective, pose_loss), middle_gradient(objective, detached), atol=1e-7)


@pytest.mark.parametrize("loss", ADAPTATION_LOSSES)
def test_every_loss_perturbs_the_frames_it_reads(loss):
    """The official loaders change each frame's colours with probability 1/3, on both sides of every loss; here
    keypoint noise does (`adaptation.perturb`), and with 0 a relation loss is a fixed function of its input."""
    x = clips(4)
    values = {}
    for p in (0.0, 1 / 3):
        _, objective = tiny(f"adaptation.perturb={p}")
        objective.noise = KeypointNoise(jitter=0.01, scale=0.1, dropout=0.1)
        with torch.no_grad():
            values[p] = [float(getattr(objective, f"_{loss}")(x[:, :T], x)) for _ in range(2)]
    if loss.endswith("contrastive"):
        assert values[0.0][0] != values[0.0][1]  # the positives are always noised
    else:
        assert values[0.0][0] == values[0.0][1]
    assert values[1 / 3][0] != values[1 / 3][1]


def test_some_frames_are_perturbed_whole_and_independently():
    torch.manual_seed(0)
    windows = clips(200)[:, :T]
    noise = KeypointNoise(jitter=0.01, scale=0.1, dropout=0.1)
    assert torch.equal(noise.some_frames(windows, 0.0), windows)
    changed = (noise.some_frames(windows, 1 / 3) != windows).flatten(2).any(-1)
    assert abs(changed.float().mean().item() - 1 / 3) < 0.03
    torch.manual_seed(1)
    everything = noise.some_frames(windows, 1.0)
    torch.manual_seed(1)
    assert torch.equal(everything, noise(windows))


def test_labelled_rows_are_real_pairs_seen_as_they_are(demo_test):
    """In the semi-supervised setting a labelled row's own 2D and 3D are used; no virtual camera touches it."""
    torch.manual_seed(0)
    poses = torch.from_numpy(demo_test.gt3d[:64] - demo_test.gt3d[:64, :1]).float()
    g2d, decoder = KeypointEncoder(width=16, middle=1), PoseDecoder(template_lengths(poses), 4)
    objective = SourceObjective(g2d, decoder, VirtualCameras(poses, 0.2))
    kp = torch.randn(64, 17, 2) * 0.1
    with torch.no_grad():
        expected = (decoder(g2d(kp)) - on_template(poses, decoder.lengths)).abs().mean()
        labelled = [objective(poses, kp, torch.ones(64, dtype=torch.bool))["loss"] for _ in range(2)]
        synthetic = [objective(poses, kp, torch.zeros(64, dtype=torch.bool))["loss"] for _ in range(2)]
    assert torch.allclose(labelled[0], expected) and torch.allclose(labelled[1], expected)
    assert not torch.allclose(synthetic[0], synthetic[1])  # fresh random views every call


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, demo_yaml) -> Path:
    return train_smoke("nlrd", tmp_path_factory.mktemp("nlrd-smoke"), demo_yaml)


@pytest.mark.slow  # trains the whole method
def test_smoke_trains_all_five_stages(smoke_run):
    log = records(smoke_run)
    assert [r["stage"] for r in log] == ["prior", "prior", "motion", "relations", "source", "adaptation"]
    for r in log:
        losses = [v for k, v in r.items() if k == "loss" or k.startswith(("l_", "distance_", "residual_"))]
        assert losses and torch.isfinite(torch.tensor(losses)).all(), r
    assert log[-1]["steps"] == 10 and all(f"l_{name}" in log[-1] for name in ADAPTATION_LOSSES)
    trained = Trained.load(smoke_run / "nlrd.pt")
    assert set(trained.encoders) == {"adapted", "source"} and trained.unpaired_poses == 1000
    adapted, source = (dict(trained.encoders[s].middle.named_parameters()) for s in ("adapted", "source"))
    assert any(not torch.equal(adapted[k], source[k]) for k in adapted)  # adaptation moved the middle layers...
    for part in ("first", "last"):  # ...and nothing else
        assert all(torch.equal(a, b) for a, b in zip(getattr(trained.encoders["adapted"], part).parameters(), getattr(trained.encoders["source"], part).parameters()))


@pytest.mark.slow  # trains the whole method
def test_predictions_have_the_template_bones_in_mm(smoke_run, demo_config):
    """Whatever G2D says, the decoder builds every predicted pose from the template's bone lengths, which the
    run scales to millimetres by the unpaired 3D's median head bone."""
    from baselines.commands import predict

    sub, test = predict("nlrd", smoke_run / "nlrd.pt", demo_config, "h36m", None, None)
    assert sub.meta.stage == "adapted" and sub.meta.supervision == "unsupervised"
    assert "unpaired 3D: 1000 poses of the h36m train split" in sub.meta.training_data and "(demo data)" in sub.meta.training_data
    trained = Trained.load(smoke_run / "nlrd.pt")
    lengths = bone_lengths(torch.from_numpy(sub.pose3d).double())
    expected = trained.decoder.lengths.double() * trained.mm_per_unit["adapted"]
    assert torch.allclose(lengths, expected.expand_as(lengths), rtol=1e-4)
    assert 40 < trained.mm_per_unit["adapted"] < 80  # half a head bone of about 100-150 mm
    assert len(sub.pose3d) == len(test)


@pytest.mark.slow  # trains the whole method
def test_prediction_file_and_entrypoint_score_the_same(smoke_run, demo_yaml, tmp_path):
    ra, rb = scored_both_ways("nlrd", smoke_run / "nlrd.pt", demo_yaml, tmp_path)
    assert ra.method.name.startswith("NLRD-2D") and rb.method.name.startswith("NLRD-2D")
    assert "unpaired 3D" in rb.method.training_data  # the entrypoint's run says what it learnt from, too
    for x, y in zip(ra.results, rb.results, strict=True):
        assert x.value == pytest.approx(y.value, abs=1e-3)


@pytest.mark.slow  # trains the whole method
def test_an_unknown_stage_is_one_line(smoke_run, demo_yaml, tmp_path):
    res = cli("baseline", "predict", "nlrd", "--checkpoint", smoke_run / "nlrd.pt", "-o", tmp_path / "x.npz", "--stage", "student", "--datasets", demo_yaml)
    assert res.exit_code == 2 and "nlrd has the stages adapted, source" in res.output and len(res.output.strip().splitlines()) == 1


@pytest.mark.slow  # trains the whole method
def test_semi_supervised_config_and_its_description(tmp_path, demo_yaml):
    """The semi-supervised setting (labelled S1 pairs) is a config of its own; a subject the split lacks is a
    one-line error, and a run that used labels says so (weakly supervised)."""
    cfg = load_config(NLRDConfig, Path("baselines/nlrd/configs/paper-semi.yaml"))
    assert cfg.source.labelled_subjects == ["S1"]
    res = cli("baseline", "train", "nlrd", "--config", "smoke", "--set", "source.labelled_subjects=[S99]", "--out", tmp_path / "run", "--datasets", demo_yaml)
    assert res.exit_code == 2 and "source.labelled_subjects: ['S99'] not in the h36m training split" in res.output, res.output
    assert not (tmp_path / "run" / "prior.ckpt").exists()  # refused before any training
    meta = Trained(cfg, {}, None, None, None, None, 1.0, {}, 123).training_meta()
    assert meta["supervision"] == "weakly-supervised" and "real 2D-3D pairs of S1" in meta["training_data"]
    assert json.dumps(meta)  # plain strings, ready for the result file


@pytest.mark.slow  # trains the whole method
def test_two_processes_with_ddp_train_every_stage_to_the_same_weights(demo_yaml, tmp_path):
    """Under torchrun every stage keeps the ranks' weights equal, the turn-based prior (the adversary playing
    from the first step) and the round-robin adaptation included, where not every step reaches every parameter."""
    folder = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "harness", "baseline", "train", "nlrd",
        "--config", "smoke", "--set", "prior.recon_threshold=100", "--out", str(folder), "--datasets", str(demo_yaml),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {r["stage"]: r["ranks"] for r in records(folder) if "ranks" in r}
    assert list(ranks) == ["prior", "motion", "relations", "source", "adaptation"]
    for stage, (first, second) in ranks.items():
        assert (first["rank"], second["rank"]) == (0, 1) and first["samples"] == second["samples"] > 0, stage
        assert first["param_checksum"] == pytest.approx(second["param_checksum"], rel=1e-12), stage
    assert any(r.get("player", 0) > 0 for r in records(folder) if r.get("stage") == "prior")  # the adversary played


@pytest.mark.slow  # trains the whole method
def test_unpaired_actions_and_per_epoch_scores_of_adaptation(tmp_path, demo_yaml, demo_config):
    """`unpaired_actions` keeps only those actions of the unpaired 3D (a motion gap to the target), an unknown
    one is a one-line error; `eval_every_epoch` scores the source-only G2D and every adaptation epoch."""
    res = cli("baseline", "train", "nlrd", "--config", "smoke", "--set", "unpaired_actions=[walk, moonwalk]", "--out", tmp_path / "bad", "--datasets", demo_yaml)
    assert res.exit_code == 2 and "unpaired_actions: ['moonwalk'] not in the h36m training split" in res.output, res.output
    cfg = load_config(NLRDConfig, None, ["unpaired_actions=[walk, run]"])
    data = unpaired(cfg, demo_config)
    walk_run = load_dataset(demo_config, "h36m", split="train").sequences.query("action in ['walk', 'run']")
    assert len(data.poses) == walk_run["length"].sum() and list(data.sequences["start"]) == [0, *walk_run["length"].cumsum()[:-1]]
    assert set(data.sequences["action"]) == {"walk", "run"} and len(data.windows(10, 5)) > 0
    folder = tmp_path / "run"
    res = cli("baseline", "train", "nlrd", "--config", "smoke", "--set", "unpaired_actions=[walk, run]", "--set", "eval_every_epoch=true", "--out", folder, "--datasets", demo_yaml)
    assert res.exit_code == 0, res.output
    assert "source-only G2D on the test split: {'test_mpjpe'" in " ".join(res.output.split())
    (adapt,) = [r for r in records(folder) if r.get("stage") == "adaptation"]
    assert 0 < adapt["test_p_mpjpe"] < adapt["test_mpjpe"] < 1000
