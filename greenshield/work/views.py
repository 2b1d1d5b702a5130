"""The page of a queued upload or import: it refreshes itself until the work is done, then links the result."""
from __future__ import annotations

from flask import Blueprint, render_template

from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user
from greenshield.context import settings
from greenshield.errors import message
from greenshield.work import services
from greenshield.work.api import visible_job

bp = Blueprint("work_pages", __name__)


@bp.route("/jobs/<job_id>")
@allow(Capability.SIGN_IN)
def job(job_id):
    job = visible_job(job_id, current_user())
    error = message(job.error_code, job.error_params) if job.error_code else None
    return render_template("work/job.html", job=job, done=services.progress_of(settings(), job), error=error)
