"""The upload page (with progress for long uploads) and the batch page."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from greenshield import db
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, outlet_for, outlet_in_scope, scope_outlets
from greenshield.context import settings
from greenshield.errors import DomainError, Invalid, exception_message, message, status_of
from greenshield.ingest.help import column_help
from greenshield.ingest.pipeline import receive_daily_log
from greenshield.ingest.schemas import warning_messages
from greenshield.work.api import queued
from greenshield.observability import count_ingest, ingest_timer
from models import BackgroundJob, BatchError, Outlet, UploadBatch

bp = Blueprint("ingest_pages", __name__)


def _my_outlets():
    stmt = scope_outlets(select(Outlet).where(Outlet.active.is_(True)), current_user()).order_by(Outlet.code)
    return db.session().scalars(stmt).all()


@bp.route("/upload", methods=["GET", "POST"])
@allow(Capability.UPLOAD_DAILY_LOG)
def upload():
    """Upload a daily log. With JavaScript the page posts to the API and shows progress; without, this form."""
    error = None
    if request.method == "POST":
        file = request.files.get("file")
        try:
            if file is None or not file.filename:
                raise Invalid("validation_error.choose_file", field="file")
            outlet = outlet_for(current_user(), request.form.get("outlet", ""))
            with ingest_timer("web"):
                outcome = receive_daily_log(db.session(), settings(), outlet=outlet, stream=file.stream,
                                            filename=file.filename, strict=request.form.get("strict") == "1",
                                            source="web", user=current_user())
            if isinstance(outcome, BackgroundJob):
                queued(outcome)
                return redirect(url_for("work_pages.job", job_id=outcome.id))
            count_ingest(outcome, "web")
        except DomainError as exc:
            error = exc
        else:
            return redirect(url_for(".batch", batch_id=outcome.batch.id))
    return render_template("ingest/upload.html", outlets=_my_outlets(), columns=column_help(),
                           error=exception_message(error) if error else None,
                           error_field=_field_of(error) if error else None), \
        status_of(error.code) if error else 200


def _field_of(error: DomainError) -> str:
    """The input an upload's error belongs beside: the outlet chosen, or else the file."""
    if error.field:
        return error.field
    return "outlet" if error.code.split(".")[-1] in ("outlet", "outlet_scope", "outlet_inactive") else "file"


@bp.route("/batches/<int:batch_id>")
@allow(Capability.READ_COMPLIANCE)
def batch(batch_id):
    """A batch's summary and its rejected rows."""
    batch = db.session().get(UploadBatch, batch_id)
    if batch is None or not outlet_in_scope(current_user(), batch.outlet):
        abort(404)
    errors = db.session().scalars(select(BatchError).where(BatchError.batch_id == batch.id)
                                  .order_by(BatchError.row, BatchError.id).limit(1000)).all()
    rows = [(e.row, e.column, message(e.code, e.params, column=e.column)) for e in errors]
    return render_template("ingest/batch.html", batch=batch, errors=rows, warnings=warning_messages(batch.warnings))
