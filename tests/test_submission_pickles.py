"""Pickles in submission files: a Python object in any member (required, optional or unasked-for, stored or
deflated) is refused with a one-line error, or ignored, and is never unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.datasets.base import TestSet
from harness.errors import BadInput
from harness.submission import read_submission
from tests.submission_cases import Demo, assert_api_message, assert_one_line_error, cli, save, small

# ------------------------------------------------------------------------------------------ pickles


class _Payload:
    """Unpickling this creates `marker` (pickle calls open(marker, 'w'))."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_arrays(test: TestSet, key: str, marker: Path) -> dict[str, np.ndarray]:
    arrays = small(test)
    if key == "pose3d":
        evil = np.empty((1,), dtype=object)
        evil[0] = _Payload(marker)
    elif key == "sample_id":
        evil = arrays["sample_id"].astype(object)
        evil[0] = _Payload(marker)
    else:  # 0-d members, and an extra member nobody asked for
        evil = np.empty((), dtype=object)
        evil[()] = _Payload(marker)
    return arrays | {key: evil}


@pytest.mark.parametrize("key", ["pose3d", "sample_id", "dataset", "meta", "units", "joint_set", "extra_member"])
@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_pickle_is_never_unpickled(key: str, compressed: bool, demo: Demo, tmp_path: Path) -> None:
    # the payload works: loading with allow_pickle=True does create its marker
    probe = tmp_path / "probe_marker"
    save(tmp_path / "probe.npz", _evil_arrays(demo.test, key, probe), compressed=compressed)
    with np.load(tmp_path / "probe.npz", allow_pickle=True) as npz:
        npz[key]
    assert probe.exists()

    marker = tmp_path / "marker"
    path = save(tmp_path / "evil.npz", _evil_arrays(demo.test, key, marker), compressed=compressed)
    if key == "extra_member":  # ignored or refused, but never loaded
        try:
            read_submission(path)
        except BadInput as exc:
            assert_api_message(str(exc), path, key, ())
        for command in ("validate", "evaluate"):
            extra = ["--no-ci"] if command == "evaluate" else []
            assert cli(command, path, *extra, "--datasets", demo.yaml).exit_code in (0, 2)
        assert not marker.exists()
        return
    with pytest.raises(BadInput) as exc:
        read_submission(path)
    assert_api_message(str(exc.value), path, key, ("pickle",))
    for command in ("validate", "evaluate"):
        result = cli(command, path, "--datasets", demo.yaml)
        assert_one_line_error(result, 2, str(path), f"key '{key}'", "Python objects")
    assert not marker.exists(), "the submission's pickle was executed"
