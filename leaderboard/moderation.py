"""Who may change what a submission shows: the owner publishes or unpublishes their scored submissions; maintainers
hide, unhide, unpublish and delete any, and mark methods as baselines. Every check is here, not only in the page:
anyone else gets a one-line BadInput."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from harness.errors import BadInput
from leaderboard.accounts import Account
from leaderboard.db import Job, LiteratureRow, Method, Submission


def require_maintainer(actor: Account | None, what: str) -> Account:
    """`actor` if a maintainer; else a one-line refusal naming the action."""
    if actor is None or not actor.maintainer:
        raise BadInput(f"{what}: only maintainers may do this")
    return actor


def own_job(session: Session, actor: Account | None, job_id: int) -> Job:
    """The job if it is the actor's or the actor is a maintainer; the same refusal whether it exists or not, so
    nobody learns which ids are taken."""
    job = session.get(Job, job_id)
    if actor is None or job is None or (job.user_id != actor.id and not actor.maintainer):
        raise BadInput(f"job {job_id}: not one of your submissions")
    return job


def _submission(session: Session, submission_id: int) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise BadInput(f"submission {submission_id}: no such submission")
    return sub


def _owned_scored(session: Session, actor: Account, job_id: int) -> Submission:
    """The submission a scored job of the actor stored, owned by the actor."""
    job = own_job(session, actor, job_id)
    if job.status != "scored" or job.submission_id is None:
        raise BadInput(f"job {job_id} is {job.status}: only a scored submission can be published or unpublished")
    sub = _submission(session, job.submission_id)
    if sub.owner_id != actor.id and not actor.maintainer:
        raise BadInput(f"job {job_id}: the same file was already stored for this method by someone else; only its owner may change it")
    return sub


def publish(engine: Engine, actor: Account, job_id: int) -> int:
    """The owner shows the submission of their scored job on the leaderboard; returns the submission id."""
    with Session(engine) as session, session.begin():
        sub = _owned_scored(session, actor, job_id)
        if sub.owner_id != actor.id:
            raise BadInput(f"job {job_id}: only its owner may publish it")
        sub.published = True
        return sub.id


def unpublish(engine: Engine, actor: Account, job_id: int) -> int:
    """The owner (or a maintainer) makes the submission of a scored job private again; returns its id."""
    with Session(engine) as session, session.begin():
        sub = _owned_scored(session, actor, job_id)
        sub.published = False
        return sub.id


def set_hidden(engine: Engine, actor: Account, submission_id: int, hidden: bool) -> None:
    """Maintainers hide a submission from every public view (or show it again); the owner still sees it as hidden."""
    require_maintainer(actor, f"{'hide' if hidden else 'unhide'} submission {submission_id}")
    with Session(engine) as session, session.begin():
        _submission(session, submission_id).hidden = hidden


def unpublish_submission(engine: Engine, actor: Account, submission_id: int) -> None:
    """Maintainers make any submission private (a command-line one too)."""
    require_maintainer(actor, f"unpublish submission {submission_id}")
    with Session(engine) as session, session.begin():
        _submission(session, submission_id).published = False


def delete_job(engine: Engine, actor: Account, job_id: int) -> None:
    """Maintainers delete a job, its uploaded file and the submission it stored (with its results), in one
    transaction; a submission someone else owns (the same file stored before) is left alone."""
    require_maintainer(actor, f"delete job {job_id}")
    with Session(engine) as session, session.begin():
        job = session.get(Job, job_id)
        if job is None:
            raise BadInput(f"job {job_id}: no such job")
        sub = session.get(Submission, job.submission_id) if job.submission_id is not None else None
        session.delete(job)
        session.flush()
        if sub is not None and sub.owner_id == job.user_id:
            session.delete(sub)


def set_baseline(engine: Engine, actor: Account, method: str, baseline: bool) -> None:
    """Maintainers mark a method as a baseline (a reference implementation) or unmark it."""
    require_maintainer(actor, f"{'mark' if baseline else 'unmark'} '{method}' as a baseline")
    with Session(engine) as session, session.begin():
        found = session.scalar(select(Method).where(Method.name == method))
        if found is None:
            raise BadInput(f"method '{method}': no such method")
        found.is_baseline = baseline


def check_method_name(engine: Engine, actor: Account, name: str) -> None:
    """A submitter may submit under a new method name or one only their own submissions use; a name that carries
    someone else's results or a paper's reported numbers is refused (maintainers may use any)."""
    if actor.maintainer:
        return
    with Session(engine) as session:
        method = session.scalar(select(Method).where(Method.name == name.strip()))
        if method is None:
            return
        others = session.scalar(select(Submission.id).where(Submission.method_id == method.id, Submission.owner_id.is_distinct_from(actor.id)).limit(1))
        reported = session.scalar(select(LiteratureRow.id).where(LiteratureRow.method_id == method.id).limit(1))
    if others is not None or reported is not None:
        raise BadInput(f"method name '{name.strip()}' is taken by another submitter or a paper's reported numbers; choose another name or ask a maintainer")
