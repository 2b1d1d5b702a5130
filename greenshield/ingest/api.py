"""Daily-log upload and batch routes."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_smorest import Blueprint
from sqlalchemy import select

from greenshield import db
from greenshield.pagination import page_of
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, outlet_for, outlet_in_scope, scope_outlets
from greenshield.context import settings
from greenshield.errors import NotFound
from greenshield.ingest import help as column_help, report, schemas as s
from greenshield.ingest.pipeline import receive_daily_log
from greenshield.work.api import JobOut, queued
from greenshield.observability import count_ingest, ingest_timer
from greenshield.personal import vault
from greenshield.personal.records import record_view
from greenshield.spreadsheets import XLSX_MIMETYPE, table_response
from models import BackgroundJob, BatchError, CollectionRecord, Outlet, UploadBatch

blp = Blueprint("ingest", __name__, url_prefix="/api/v1", description="Daily collection logs (收寄日志)")


@blp.route("/outlets/<code>/daily-logs", methods=["POST"])
@blp.arguments(s.UploadForm, location="form")
@blp.arguments(s.UploadFiles, location="files")
@blp.response(201, s.BatchOut)
@blp.alt_response(200, schema=s.BatchOut, description="The same file was uploaded before: its first batch")
@blp.alt_response(202, schema=JobOut, description="A large file, queued for a worker (when workers run): its job")
@allow(Capability.UPLOAD_DAILY_LOG)
def upload(form, files, code):
    """Upload one daily-log file (CSV, XLSX or JSON Lines) for an outlet.

    Valid rows are stored, invalid rows reported per row; ``strict=true`` makes it all-or-nothing. When workers
    run (``REDIS_URL``), a file over ``QUEUE_UPLOAD_BYTES`` is queued: 202 with the job to follow
    (``GET /api/v1/jobs/<id>``).
    """
    outlet = outlet_for(current_user(), code)
    upload = files["file"]
    with ingest_timer("api"):
        outcome = receive_daily_log(db.session(), settings(), outlet=outlet, stream=upload.stream,
                                    filename=upload.filename or "", strict=form["strict"], source="api",
                                    user=current_user())
    if isinstance(outcome, BackgroundJob):
        return queued(outcome)
    count_ingest(outcome, "api")
    return outcome.batch, 201 if outcome.created else 200


@blp.route("/batches", methods=["GET"])
@blp.arguments(s.BatchListArgs, location="query")
@blp.response(200, s.BatchOut(many=True))
@blp.paginate()
@allow(Capability.READ_COMPLIANCE)
def list_batches(args, pagination_parameters):
    """Uploaded batches of the outlets in the caller's scope, newest first."""
    stmt = scope_outlets(select(UploadBatch).join(Outlet, UploadBatch.outlet_id == Outlet.id), current_user())
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    return page_of(stmt.order_by(UploadBatch.id.desc()), pagination_parameters)


def _batch(batch_id: int) -> UploadBatch:
    batch = db.session().get(UploadBatch, batch_id)
    if batch is None or not outlet_in_scope(current_user(), batch.outlet):
        raise NotFound("not_found.batch", id=batch_id)
    return batch


@blp.route("/batches/<int:batch_id>", methods=["GET"])
@blp.response(200, s.BatchOut)
@allow(Capability.READ_COMPLIANCE)
def get_batch(batch_id):
    return _batch(batch_id)


@blp.route("/batches/<int:batch_id>/errors", methods=["GET"])
@blp.arguments(s.ErrorsArgs, location="query")
@blp.response(200, s.BatchErrorOut(many=True))
@blp.alt_response(200, schema={"type": "string"}, content_type="text/csv",
                  description="?format=csv: the error report for Excel (UTF-8 with BOM)")
@blp.alt_response(200, schema={"type": "string", "format": "binary"}, content_type=XLSX_MIMETYPE,
                  description="?format=xlsx: the error report as a workbook")
@allow(Capability.READ_COMPLIANCE)
def batch_errors(args, batch_id):
    """The rejected rows of a batch: row as the user sees it, column, code, parameters and message (in the
    language of ``Accept-Language``). ``?format=csv`` or ``?format=xlsx``: a report for people, one line per
    rejected row with its reasons beside its own cells (personal data masked), headed in the reader's
    language."""
    batch = _batch(batch_id)
    if args["format"] in ("csv", "xlsx"):
        return table_response(report.header(), report.report_rows(db.session(), settings(), batch),
                              filename=_("batch-%(id)s-errors", id=batch.id), fmt=args["format"],
                              title=_("Rejected rows"))
    return db.session().scalars(select(BatchError).where(BatchError.batch_id == batch.id)
                                .order_by(BatchError.row, BatchError.id)).all()


@blp.route("/daily-log-template", methods=["GET"])
@blp.arguments(s.TemplateArgs, location="query")
@blp.response(200, schema={"type": "string", "format": "binary"}, content_type=XLSX_MIMETYPE,
              description="?format=xlsx (default): a workbook")
@blp.alt_response(200, schema={"type": "string"}, content_type="text/csv",
                  description="?format=csv: UTF-8 with BOM, for Excel")
@allow(Capability.UPLOAD_DAILY_LOG, Capability.READ_COMPLIANCE)
def daily_log_template(args):
    """An empty daily log: the columns' Chinese names as the header and two example rows (replace them)."""
    header, rows = column_help.template()
    return table_response(header, rows, filename=_("daily-log-template"), fmt=args["format"],
                          title=_("Daily log"))


@blp.route("/outlets/<code>/records/<waybill_no>", methods=["GET"])
@blp.response(200, s.RecordVersionOut(many=True))
@allow(Capability.READ_COMPLIANCE)
def record_history(code, waybill_no):
    """Every version of one waybill's record at an outlet, oldest first (personal data masked)."""
    outlet = outlet_for(current_user(), code)
    session = db.session()
    versions = session.scalars(select(CollectionRecord).where(
        CollectionRecord.outlet_id == outlet.id, CollectionRecord.waybill_no == waybill_no.strip().upper())
        .order_by(CollectionRecord.version)).all()
    if not versions:
        raise NotFound("not_found.record", waybill_no=waybill_no, outlet=outlet.code)
    return [record_view(r, vault(session, settings()), clear=False) for r in versions]


