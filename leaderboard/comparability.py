"""When a reported number may be ranked with a benchmark's rows: the one comparability rule.

A number is comparable with a benchmark only when every protocol field that changes it is known and, for the
fields the benchmark defines, equal to the benchmark's value. The benchmark's values are derived from
`harness.benchmarks` (its frames, GT variant, root, headline aggregation, joint set and the alignment label of
each metric), never restated here. Rows scored by the harness are comparable by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.benchmarks import BENCHMARKS, METRICS, Benchmark
from harness.skeletons import PCK14_NAMES, joint_set

# Fields a benchmark defines: a reported number must match them.
BENCHMARK_FIELDS: tuple[str, ...] = ("joints", "frames", "gt", "aggregation", "root", "scale_rule", "procrustes", "oracle")
# Fields every PoseBench number assumes, whatever the benchmark: no checkpoint or scale chosen on the test set,
# one prediction per frame (not the best of several seeds or hypotheses).
UNIVERSAL: dict[str, str] = {"model_selection_on_test": "no", "best_of": "1"}
# Fields that describe the method's setting rather than the scoring: they must be known (the table shows them as
# columns and filters, so like is compared with like) but are not compared with the benchmark.
FACETS: tuple[str, ...] = ("input_2d", "training_data", "test_time_augmentation")
PROTOCOL_FIELDS: tuple[str, ...] = (*BENCHMARK_FIELDS, *UNIVERSAL, *FACETS)

UNKNOWN = "unknown"
REFERENCE = "as "  # a reported value "as h36m" means "the value benchmark h36m defines for this field"

# Tokens of harness alignment labels ("root+least-squares-scale", "procrustes-similarity+depth-flip-oracle", ...)
# and the fields each one sets; every label in BENCHMARKS must be made of these (a test checks).
_ALIGNMENT_TOKENS: dict[str, dict[str, str]] = {
    "root": {},
    "procrustes-similarity": {"scale_rule": "procrustes", "procrustes": "no-reflection"},
    "procrustes-scale": {"scale_rule": "procrustes"},
    "least-squares-scale": {"scale_rule": "least-squares"},
    "reflection-allowed-procrustes-scale": {"scale_rule": "procrustes (reflection-allowed)"},
    "norm-ratio-scale": {"scale_rule": "norm-ratio"},
    "reflection-allowed": {"procrustes": "reflection-allowed"},
    "depth-flip-oracle": {"oracle": "depth-flip-per-frame"},
    "per-joint-depth-flip-oracle": {"oracle": "depth-flip-per-joint"},
    "gt-bone-lengths": {"oracle": "gt-bone-lengths"},
}


def is_unknown(value: str | None) -> bool:
    """'unknown', or 'unknown: <what is suspected>'."""
    return value is None or value.split(":", 1)[0].strip().lower() == UNKNOWN


def alignment_fields(label: str) -> dict[str, str]:
    """The scale rule, Procrustes rule and ground-truth oracle a harness alignment label stands for."""
    fields = {"scale_rule": "none", "procrustes": "none", "oracle": "none"}
    for token in label.split("+"):
        if token not in _ALIGNMENT_TOKENS:
            raise ValueError(f"alignment label {label!r}: token {token!r} is not one of {sorted(_ALIGNMENT_TOKENS)}")
        fields.update(_ALIGNMENT_TOKENS[token])
    return fields


def pck_joints_label(bench: Benchmark) -> str:
    """'pck14' for the official 3DHP 14 joints, else the count and the joints of the benchmark's set left out."""
    names = bench.pck_joint_names
    if tuple(names) == PCK14_NAMES:
        return "pck14"
    left_out = sorted(set(joint_set(bench.eval_joint_set or bench.joint_set).names) - set(names))
    return f"pck{len(names)} (all but {', '.join(left_out)})"


def expected_protocol(benchmark: str, metric: str, aggregation: str | None = None) -> dict[str, str]:
    """The value of every benchmark-defined and universal field for `metric` on `benchmark`, with `aggregation`
    (one of the benchmark's; default its headline one)."""
    bench = BENCHMARKS[benchmark]
    if aggregation is not None and aggregation not in bench.aggregations:
        raise ValueError(f"{benchmark}: aggregation {aggregation!r} is not one of {', '.join(bench.aggregations)}")
    info = METRICS[metric]
    joints = (bench.eval_joint_set or bench.joint_set) if info.joints == "all" else pck_joints_label(bench)
    return {
        "joints": joints, "frames": bench.frames, "gt": bench.gt, "aggregation": aggregation or bench.aggregations[0], "root": bench.root,
        **alignment_fields(bench.alignments.get(metric, info.alignment)), **UNIVERSAL,
    }


def resolve(field: str, value: str, metric: str) -> str:
    """A reported value with a reference ('as h36m') replaced by what that benchmark defines for the field."""
    if not value.startswith(REFERENCE):
        return value
    other = value[len(REFERENCE):].strip()
    if other not in BENCHMARKS:
        raise ValueError(f"{field}: '{value}' names no benchmark; expected 'as' one of {', '.join(BENCHMARKS)}")
    return expected_protocol(other, metric)[field]


@dataclass(frozen=True)
class Verdict:
    """Whether a number may be ranked on a benchmark; if not, the fields that differ and those not known."""

    differs: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    reason: str = ""  # set when the benchmark itself is not one this harness defines

    @property
    def comparable(self) -> bool:
        return not (self.differs or self.unknown or self.reason)

    def summary(self) -> str:
        """One line, e.g. 'differs: frames, procrustes; unknown: aggregation' ('' when comparable)."""
        parts = [self.reason] if self.reason else []
        if self.differs:
            parts.append("differs: " + ", ".join(self.differs))
        if self.unknown:
            parts.append("unknown: " + ", ".join(self.unknown))
        return "; ".join(parts)


COMPARABLE = Verdict()


def judge(benchmark: str, metric: str, protocol: Mapping[str, str], aggregation: str | None = None) -> Verdict:
    """The verdict for a reported number of `metric` on `benchmark` whose protocol fields are `protocol`
    (missing fields count as unknown), in a table of `aggregation` (default: the benchmark's headline one)."""
    if benchmark not in BENCHMARKS or metric not in METRICS:
        return Verdict(reason=f"{benchmark}/{metric} is not a benchmark metric this harness defines")
    expected = expected_protocol(benchmark, metric, aggregation)
    differs, unknown = [], []
    for field in PROTOCOL_FIELDS:
        value = protocol.get(field)
        if is_unknown(value):
            unknown.append(field)
        elif field in expected and resolve(field, value, metric) != expected[field]:
            differs.append(field)
    return Verdict(tuple(differs), tuple(unknown))


def field_table(benchmark: str, metric: str, protocol: Mapping[str, str]) -> list[dict[str, str]]:
    """Per field: the reported value (references resolved), the benchmark's and whether they agree; for a
    method's page."""
    expected = expected_protocol(benchmark, metric) if benchmark in BENCHMARKS and metric in METRICS else {}
    rows = []
    for field in PROTOCOL_FIELDS:
        value = protocol.get(field) or UNKNOWN
        shown = value if is_unknown(value) else resolve(field, value, metric)
        want = expected.get(field, "(method setting: must be known)" if field in FACETS else "")
        state = "unknown" if is_unknown(value) else ("same" if field not in expected or shown == want else "differs")
        rows.append({"field": field, "reported": shown, "benchmark": want, "state": state})
    return rows
