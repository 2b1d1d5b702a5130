"""``GET /api/v1/jobs/<id>``: how a queued piece of long work is doing, and what came of it."""
from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import allow, current_user, outlet_in_scope
from greenshield.context import settings
from greenshield.dumping import Out
from greenshield.errors import NotFound, message
from greenshield.work import services
from models import BackgroundJob, User

blp = Blueprint("work", __name__, url_prefix="/api/v1", description="Long work done by background workers")


class JobError(Schema):
    code = fields.String(metadata={"description": "The stable code of the refusal"})
    message = fields.String(metadata={"description": "What was wrong, in the caller's language"})


class JobOut(Out):
    id = fields.String()
    kind = fields.String(attribute="kind.value", metadata={"description": "daily_log | xray_import"})
    status = fields.String(attribute="status.value", metadata={"description": "queued | running | done | failed"})
    filename = fields.String()
    size_bytes = fields.Integer()
    outlet_code = fields.Function(lambda job: job.outlet.code if job.outlet else None)
    done = fields.Function(lambda job: services.progress_of(settings(), job),
                           metadata={"description": "rows (or images) processed so far, while running"})
    attempts = fields.Integer()
    result = fields.Dict(metadata={"description": "daily_log: batch_id, status, rows_*; xray_import: counts"})
    error = fields.Function(lambda job: {"code": job.error_code.partition(".")[0],
                                         "message": message(job.error_code, job.error_params)}
                            if job.error_code else None)
    status_url = fields.Function(lambda job: f"/api/v1/jobs/{job.id}")
    created_at = fields.DateTime()
    started_at = fields.DateTime()
    finished_at = fields.DateTime()


def queued(job: BackgroundJob):
    """The answer to a request whose work was queued: commit the job, hand it to the workers, 202 with it."""
    db.session().commit()
    services.enqueue(settings(), job)
    return jsonify(JobOut().dump(job)), 202


def visible_job(job_id: str, user: User) -> BackgroundJob:
    """A job its requester may follow, and those who see its outlet; NotFound for anyone else."""
    job = db.session().get(BackgroundJob, job_id)
    if job is None or not (job.user_id == user.id or (
            job.outlet is not None and can(user, Capability.READ_COMPLIANCE) and outlet_in_scope(user, job.outlet))):
        raise NotFound("not_found.job", id=job_id)
    return job


@blp.route("/jobs/<job_id>", methods=["GET"])
@blp.response(200, JobOut)
@allow(Capability.SIGN_IN)
def get_job(job_id):
    """A queued upload or import: its status, progress while running, its result (the batch) or why it failed."""
    return visible_job(job_id, current_user())
