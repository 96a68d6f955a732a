"""The literature's 3DPW ground truth: the SMPL mesh of each frame's parameters, H36M-17 joints regressed from it.

The SMPL model and the H36M joint regressor are licensed assets that PoseBench cannot ship; `smpl_model_dir`
in datasets.yaml points at the user's own copies:

- `SMPL_NEUTRAL.npz`, `SMPL_MALE.npz`, `SMPL_FEMALE.npz`: the model with the arrays `v_template` (6890, 3),
  `shapedirs` (6890, 3, >=10), `posedirs` (6890, 3, 207), `J_regressor` (24, 6890), `weights` (6890, 24),
  `kintree_table` (2, 24) and `f` (13776, 3). The official pickles need the unmaintained `chumpy`; convert
  them once where chumpy works with `np.savez(out, **{k: np.array(v) for k, v in pickle.load(f,
  encoding='latin1').items() if k in KEYS})` (SMPL_*.npz files from other projects in this layout also work);
- `J_regressor_h36m.npy` (17, 6890): the H36M joint regressor used by SPIN, VIBE and mmhuman3d.

The mesh comes from the `smplx` package's SMPL layer with the actor's gender (the neutral model where the
gender is missing), betas[:10], the 72 pose parameters and the translation, in world metres.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from harness.errors import DatasetUnavailable

KEYS: tuple[str, ...] = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
REGRESSOR = "J_regressor_h36m.npy"
GENDERS = {"m": "MALE", "f": "FEMALE", "male": "MALE", "female": "FEMALE"}
BATCH = 2048


def smpl_layer(path: Path, what: str, **options: object):  # noqa: ANN201 - a smplx.SMPL module
    """smplx's SMPL layer from a converted `.npz` (never a pickle); `what` names the setting for messages."""
    import smplx
    from smplx.utils import Struct

    if not path.is_file():
        raise DatasetUnavailable(f"{what}: {path} not found (a converted SMPL model, see README)")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in KEYS if k not in z.files]
        if missing:
            raise DatasetUnavailable(f"{path}: no {', '.join(missing)} (expected the SMPL model arrays {', '.join(KEYS)})")
        struct = Struct(**{k: z[k] for k in KEYS})
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints notes about the shape space
        return smplx.SMPL(model_path=str(path), data_struct=struct, **options)


class SmplRegressor:
    """SMPL meshes to H36M-17 joints, one SMPL layer per gender, loaded lazily from `model_dir`."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        path = self.model_dir / REGRESSOR
        if not path.is_file():
            raise DatasetUnavailable(f"3dpw smpl_model_dir: {path} not found (the H36M joint regressor, (17, 6890))")
        self.regressor = np.load(path, allow_pickle=False).astype(np.float32)
        self._layers: dict[str, object] = {}

    def _layer(self, gender: str):  # noqa: ANN202 - a smplx.SMPL module
        name = GENDERS.get(str(gender).lower(), "NEUTRAL")
        if name not in self._layers:
            self._layers[name] = smpl_layer(self.model_dir / f"SMPL_{name}.npz", "3dpw smpl_model_dir", batch_size=1)
        return self._layers[name]

    def h36m17(self, gender: str, betas: np.ndarray, poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """(N, 17, 3) world metres for one actor's per-frame SMPL parameters."""
        import torch

        layer = self._layer(gender)
        reg = torch.from_numpy(self.regressor)
        out = np.empty((len(poses), len(self.regressor), 3), dtype=np.float64)
        b = torch.as_tensor(np.asarray(betas, dtype=np.float32)[:10])[None]
        with torch.no_grad():
            for a in range(0, len(poses), BATCH):
                p = torch.as_tensor(np.asarray(poses[a : a + BATCH], dtype=np.float32))
                t = torch.as_tensor(np.asarray(trans[a : a + BATCH], dtype=np.float32))
                verts = layer(betas=b.expand(len(p), -1), global_orient=p[:, :3], body_pose=p[:, 3:], transl=t).vertices
                out[a : a + len(p)] = torch.einsum("jv,nvk->njk", reg, verts).numpy()
        return out
