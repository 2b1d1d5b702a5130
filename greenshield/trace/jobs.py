"""Scheduled traceability jobs: due watchlists every minute, access-log checkpoints every hour."""
from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request

from sqlalchemy import select

from greenshield import db
from greenshield.context import settings_of
from greenshield.jobs import claim, job_app, last_fire_time
from models import User, Watchlist, utcnow
from models.base import CHINA

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_SECONDS = 10


def run_watchlists(now: dt.datetime | None = None) -> dict[str, int]:
    """Run every watchlist whose cron fired since its last run, once per firing whatever the number of scheduler
    processes; a watchlist whose case was refused or has expired, or whose owner's account was deactivated, stops
    for good. Then tell the webhook, if one is configured, of each run that found new matches (waybill numbers
    only, never personal data).

    ``now`` (default: the clock) decides which firing is due; the scheduler calls it without arguments.
    """
    from greenshield.personal import vault
    from greenshield.trace import watchlists
    from greenshield.trace.services import _subject_key

    app = job_app()
    settings = settings_of(app)
    done = {"run": 0, "stopped": 0, "matches": 0}
    now = (now or dt.datetime.now(CHINA)).astimezone(CHINA)
    with app.app_context():
        with db.job_session() as session:
            ids = list(session.scalars(select(Watchlist.id).where(Watchlist.active.is_(True)).order_by(Watchlist.id)))
        key = _subject_key(settings.instance_path)
        for watchlist_id in ids:
            run = None
            with db.job_session(write=True) as session:
                watchlist = session.get(Watchlist, watchlist_id)
                if watchlist is None or not watchlist.active:
                    continue
                if not watchlists.alive(watchlist, now.date()) or not session.get(User, watchlist.owner_id).active:
                    watchlist.active = False
                    done["stopped"] += 1
                    continue
                fire = last_fire_time(watchlist.cron, now)
                if fire is None or watchlist.last_run_at is not None and watchlist.last_run_at >= fire:
                    continue
                if not claim(session, f"watchlist-{watchlist_id}", fire):
                    continue
                run = watchlists.run_watchlist(session, watchlist, vault(session, settings), subject_key=key,
                                               limit=settings.trace_max_results, at=now,
                                               request_id=f"watchlist-{watchlist_id}@{fire:%Y%m%dT%H%M}")
                done["run"] += 1
                done["matches"] += len(run.new_waybills)
            if run is not None and run.new_waybills and settings.watchlist_webhook_url:
                notify_webhook(settings.watchlist_webhook_url, {
                    "kind": "watchlist_match", "text": _webhook_text(run), "watchlist_id": run.watchlist_id,
                    "case_no": run.case_no,
                    "count": len(run.new_waybills), "waybills": run.new_waybills,
                    "notification_id": run.notification_id, "at": utcnow().isoformat()})
    return done


def _webhook_text(run) -> str:
    """What a chat bot shows of a run: a sentence in Chinese (the centre's language; jobs have no reader)."""
    from flask_babel import force_locale

    from greenshield.web.labels import notification_text

    with force_locale("zh"):
        return notification_text("watchlist_match", {"count": len(run.new_waybills), "case_no": run.case_no,
                                                     "watchlist": run.name})


def notify_webhook(url: str, payload: dict) -> bool:
    """POST ``payload`` as JSON; a failure is logged, not raised (the in-app notification is already stored)."""
    request = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "GreenShield-watchlist"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError) as exc:
        log.warning("watchlist webhook %s failed: %s", url, exc)
        return False


def checkpoint_access_log() -> str | None:
    """Every minute: sign the access log's newest entry into a checkpoint file when one is due (entries were
    added and ``ACCESS_LOG_CHECKPOINT_EVERY`` of them or ``ACCESS_LOG_CHECKPOINT_MINUTES`` have passed)."""
    from greenshield.trace import accesslog

    app = job_app()
    settings = settings_of(app)
    with app.app_context(), db.job_session(write=False) as session:
        if not accesslog.checkpoint_due(session, settings.checkpoints_dir,
                                        every=settings.access_log_checkpoint_every,
                                        minutes=settings.access_log_checkpoint_minutes):
            return None
        point = accesslog.write_checkpoint(session, settings.checkpoints_dir,
                                           accesslog.signing_key_at(settings.signing_key_path))
        return str(point.path) if point else None
