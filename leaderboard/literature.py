"""Seeding the published numbers of `literature.yaml` (shown as reported, never as verified)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from harness.benchmarks import BENCHMARKS, METRICS
from harness.errors import BadInput, first_validation_error
from leaderboard.comparability import REFERENCE, is_unknown, resolve
from leaderboard.db import LiteratureRow, Method

# fields with a closed set of values (besides 'unknown')
_CHOICES: dict[str, tuple[str, ...]] = {"procrustes": ("none", "no-reflection", "reflection-allowed"), "model_selection_on_test": ("yes", "no")}


class ProtocolFields(BaseModel):
    """What is known of how one reported number was computed: a value, or 'unknown' (optionally
    'unknown: <what is suspected>'). A value 'as <benchmark>' means "what that PoseBench benchmark defines"."""

    model_config = ConfigDict(extra="forbid")

    joints: str = Field(min_length=1)
    frames: str = Field(min_length=1)
    gt: str = Field(min_length=1)
    aggregation: str = Field(min_length=1)
    root: str = Field(min_length=1)
    scale_rule: str = Field(min_length=1)
    procrustes: str = Field(min_length=1)
    oracle: str = Field(min_length=1)
    model_selection_on_test: str = Field(min_length=1)
    best_of: str = Field(min_length=1)
    training_data: str = Field(min_length=1)
    test_time_augmentation: str = Field(min_length=1)

    @field_validator("*")
    @classmethod
    def _reference_names_a_benchmark(cls, value: str) -> str:
        if value.startswith(REFERENCE) and value[len(REFERENCE):].strip() not in BENCHMARKS:
            raise ValueError(f"'{value}' names no benchmark; expected 'as' one of {', '.join(BENCHMARKS)}")
        return value

    @field_validator("procrustes", "model_selection_on_test")
    @classmethod
    def _one_of(cls, value: str, info: ValidationInfo) -> str:
        allowed = _CHOICES[info.field_name]
        if not is_unknown(value) and value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)} or 'unknown', got '{value}'")
        return value


class ReportedNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmark: str
    metric: str
    value: float
    unit: str
    input_2d: str = Field(min_length=1, max_length=40)  # also the number's key in the database; 'unknown' when not known
    source: str = Field(min_length=1, max_length=500)
    protocol: str = Field(min_length=1)
    unknown: str = Field(min_length=1)
    fields: ProtocolFields

    @model_validator(mode="after")
    def _known_benchmark_and_metric(self) -> "ReportedNumber":
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"benchmark '{self.benchmark}': expected one of {', '.join(BENCHMARKS)}")
        info = METRICS.get(self.metric)
        if info is None:
            raise ValueError(f"metric '{self.metric}': expected one of {', '.join(METRICS)}")
        if self.unit != info.unit:
            raise ValueError(f"unit of {self.metric}: expected '{info.unit}', got '{self.unit}'")
        for name, value in self.fields.model_dump().items():
            resolve(name, value, self.metric)
        return self

    def protocol_fields(self) -> dict[str, str]:
        """Every protocol field of this number, the 2D input included."""
        return {**self.fields.model_dump(), "input_2d": self.input_2d}


class ReportedMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)  # the lengths are the database's columns
    paper: str = Field(max_length=500)
    code: str | None = Field(default=None, max_length=500)
    venue: str | None = Field(default=None, max_length=100)
    year: int | None = None
    supervision: str = Field(max_length=40)
    training_data: str = Field(max_length=200)
    notes: str | None = None
    results: list[ReportedNumber] = []

    @model_validator(mode="after")
    def _numbers_or_why_not(self) -> "ReportedMethod":
        if not self.results and not self.notes:
            raise ValueError("a method without reported numbers needs notes saying why it is listed and why no number is")
        return self


class Literature(BaseModel):
    methods: list[ReportedMethod]


def read_literature(path: Path | None = None) -> Literature:
    """The packaged literature.yaml, or another file in the same layout."""
    text = path.read_text() if path else resources.files("leaderboard").joinpath("literature.yaml").read_text()
    try:
        return Literature.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise BadInput(f"{path or 'literature.yaml'}: {first_validation_error(exc)}") from None


def seed(engine: Engine, literature: Literature) -> tuple[int, int]:
    """Insert or update every method and reported number, and remove the reported numbers of these methods that
    the file no longer holds; returns (methods, numbers). Running it twice changes nothing."""
    n_numbers = 0
    with Session(engine) as session, session.begin():
        for entry in literature.methods:
            method = session.scalar(select(Method).where(Method.name == entry.name)) or Method(name=entry.name, is_baseline=False)
            method.paper_url, method.code_url, method.venue, method.year = entry.paper, entry.code, entry.venue, entry.year
            method.supervision, method.training_data, method.notes = entry.supervision, entry.training_data, entry.notes
            session.add(method)
            session.flush()
            kept = set()
            for r in entry.results:
                row = session.scalar(
                    select(LiteratureRow).where(
                        LiteratureRow.method_id == method.id, LiteratureRow.benchmark == r.benchmark,
                        LiteratureRow.metric == r.metric, LiteratureRow.input_2d == r.input_2d,
                    )
                ) or LiteratureRow(method_id=method.id, benchmark=r.benchmark, metric=r.metric, input_2d=r.input_2d)
                row.value, row.unit, row.source, row.status = r.value, r.unit, r.source, "reported"
                row.protocol_notes, row.unknown, row.protocol = r.protocol, r.unknown, r.fields.model_dump()
                session.add(row)
                session.flush()
                kept.add(row.id)
                n_numbers += 1
            for stale in session.scalars(select(LiteratureRow).where(LiteratureRow.method_id == method.id)):
                if stale.id not in kept:
                    session.delete(stale)
    return len(literature.methods), n_numbers
