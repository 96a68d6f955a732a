"""Who sees a stored submission: the one rule every public read (tables, Method, Compare, Progress, exports) uses.

A submission stored from the command line is published; one made through the page is private to its owner until
the owner publishes it; a maintainer can hide any submission. Public views show only published, not hidden ones;
an owner sees their own private ones on their "My submissions" page only.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, select

from leaderboard.db import Submission


def public() -> ColumnElement[bool]:
    """The condition on Submission that a public view shows it."""
    return and_(Submission.published.is_(True), Submission.hidden.is_(False))


def public_submission_ids() -> Select[tuple[int]]:
    """The ids of the submissions public views show, for `.in_(...)`."""
    return select(Submission.id).where(public())
