"""Seeding the published numbers of `literature.yaml` (shown as reported, never as verified)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from harness.errors import BadInput, first_validation_error
from leaderboard.db import LiteratureRow, Method


class ReportedNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmark: str
    metric: str
    value: float
    unit: str
    input_2d: str
    source: str
    protocol: str
    unknown: str


class ReportedMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    paper: str
    code: str | None = None
    venue: str | None = None
    year: int | None = None
    supervision: str
    training_data: str
    results: list[ReportedNumber] = Field(min_length=1)


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
    """Insert or update every method and reported number; returns (methods, numbers). Running it twice changes nothing."""
    n_numbers = 0
    with Session(engine) as session, session.begin():
        for entry in literature.methods:
            method = session.scalar(select(Method).where(Method.name == entry.name)) or Method(name=entry.name, is_baseline=False)
            method.paper_url, method.code_url, method.venue, method.year = entry.paper, entry.code, entry.venue, entry.year
            method.supervision, method.training_data = entry.supervision, entry.training_data
            session.add(method)
            session.flush()
            for r in entry.results:
                row = session.scalar(
                    select(LiteratureRow).where(
                        LiteratureRow.method_id == method.id, LiteratureRow.benchmark == r.benchmark,
                        LiteratureRow.metric == r.metric, LiteratureRow.input_2d == r.input_2d,
                    )
                ) or LiteratureRow(method_id=method.id, benchmark=r.benchmark, metric=r.metric, input_2d=r.input_2d)
                row.value, row.unit, row.source, row.status = r.value, r.unit, r.source, "reported"
                row.protocol_notes, row.unknown = r.protocol, r.unknown
                session.add(row)
                n_numbers += 1
    return len(literature.methods), n_numbers
