"""``greenshield xray ...``: train, evaluate, activate and list models; import events; purge; TIP injection."""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from greenshield import db
from greenshield.context import settings, storage
from greenshield.xray.services import image_key
from models.base import CHINA

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _progress(label: str):
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=f"{label}: {stage}", unit="img", file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


@click.group("xray")
def xray() -> None:
    """X-ray anomaly models and events."""


class _Scans(Sequence):
    """Training bags from several sources (file paths, stored event images) as one sequence: each is read only when
    the trainer asks for it, so a few hundred scans never sit in memory together."""

    def __init__(self, paths: list[Path], events: list, store) -> None:
        self.paths, self.keys, self.store = paths, [image_key(e) for e in events], store

    def __len__(self) -> int:
        return len(self.paths) + len(self.keys)

    def __getitem__(self, index: int):
        if index < len(self.paths):
            return self.paths[index]
        from inspection.xray.imaging import decode_pixels

        return decode_pixels(self.store.get(self.keys[index - len(self.paths)]))[0]


@xray.command("train")
@click.option("--benign", "benign_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of benign bag scans; omitted (and no --from-events): procedurally generated bags.")
@click.option("--machine", "machine_code", help="Commission this machine: --from-events takes its scans, "
              "--activate assigns the model to it only.")
@click.option("--from-events", is_flag=True, help="Train on the machine's stored scans (not test images, not "
              "reviewed as seized or referred).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="With --from-events: scans from this day on.")
@click.option("--generated-bags", default=120, show_default=True, help="Procedural bags when no scans are given.")
@click.option("--threats", default=360, show_default=True, help="Procedural threat objects to project.")
@click.option("--threats-per-bag", default=4, show_default=True, help="Threats projected into each bag.")
@click.option("--false-flag-budget", type=float, help="Share of held-back clean scans the threshold may flag "
              "[default: XRAY_FALSE_FLAG_BUDGET].")
@click.option("--target-recall", type=float, help="Choose the threshold for this recall on projected threats "
              "instead of the false-flag budget.")
@click.option("--held-back", default=0.4, show_default=True, help="Share of the scans held back from training "
              "to choose the threshold on (more: a surer budget, fewer scans to learn from).")
@click.option("--workers", default=2, show_default=True, help="Threads for feature extraction.")
@click.option("--seed", default=0, show_default=True)
@click.option("--version", help="Version name (default: a timestamp).")
@click.option("--activate", "make_active", is_flag=True, help="Activate the model when trained (with --machine: "
              "for that machine only).")
@with_appcontext
def train(benign_dir, machine_code, from_events, since, generated_bags, threats, threats_per_bag, false_flag_budget,
          target_recall, held_back, workers, seed, version, make_active) -> None:
    """Train a model by projecting threats into clean bags; register it (inactive unless --activate).

    The threshold flags at most the false-flag budget of the clean scans held back from training. A centre
    retrains on a folder of its own clean scans (--benign), or commissions a machine on its own stored scans
    (--machine CODE --from-events --activate); without scans, procedural bags are used, as for the shipped
    default model. See docs/xray.md.
    """
    import numpy as np

    from greenshield.xray.services import activate, assign_model, eligible_scans
    from inspection.xray.model import train_model
    from inspection.xray.procedural import THREAT_KINDS, ProceduralBags, random_threats
    from models import XrayMachine, XrayModelVersion

    budget = settings().xray_false_flag_budget if false_flag_budget is None else false_flag_budget
    if target_recall is not None and not 0 < target_recall <= 1:
        raise click.BadParameter("0 < --target-recall <= 1.")
    if not 0 < budget < 1:
        raise click.BadParameter("0 < --false-flag-budget < 1.")
    if threats < 1 or threats_per_bag < 1 or workers < 1 or not 0 < held_back < 1:
        raise click.BadParameter("--threats, --threats-per-bag and --workers are >= 1; 0 < --held-back < 1.")
    if (from_events or since) and not machine_code:
        raise click.UsageError("--from-events needs --machine CODE.")
    summary: dict = {}
    with db.job_session(write=False) as session:
        machine = None
        if machine_code:
            machine = session.scalar(select(XrayMachine).where(XrayMachine.code == machine_code.upper()))
            if machine is None:
                raise click.ClickException(f"No X-ray machine {machine_code}.")
            summary["machine"] = machine.code
        events = []
        if from_events:
            start = since.replace(tzinfo=CHINA) if since else None
            events = eligible_scans(session, machine, since=start)
            events = [e for e in events if e.image_purged_at is None]
            summary.update(events=len(events), events_through=max((e.id for e in events), default=None),
                           since=since.date().isoformat() if since else None)
            session.expunge_all()
    paths = _images(benign_dir) if benign_dir else []
    if from_events or benign_dir:
        bags = _Scans(paths, events, storage())
        if len(bags) < 4:
            raise click.ClickException("Training needs at least 4 clean scans (found "
                                       f"{len(events)} stored scans and {len(paths)} files).")
    else:
        bags = ProceduralBags(generated_bags, seed)
    version = version or dt.datetime.now(dt.timezone.utc).strftime("gs-%Y%m%d-%H%M%S")
    sources = [f"{len(events)} scans of {machine.code}" if from_events else None,
               f"folder {benign_dir}" if benign_dir else None]
    description = "benign: " + (", ".join(x for x in sources if x) or f"{generated_bags} generated bags")
    model = train_model(bags, random_threats(threats, np.random.default_rng([seed, 3]), THREAT_KINDS), seed=seed,
                        threats_per_bag=threats_per_bag, false_flag_budget=None if target_recall else budget,
                        target_recall=target_recall, validation_fraction=held_back, workers=workers, version=version,
                        description=description,
                        progress=_progress("train"))
    model.metadata["training"].update(summary)
    relative = Path("xray") / "models" / version
    with db.job_session() as session:
        if session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == model.version)):
            raise click.ClickException(f"Model version {model.version} exists already.")
        model.save(settings().instance_path / relative)
        session.add(XrayModelVersion(version=model.version, location=str(relative), threshold=model.threshold,
                                     target_recall=target_recall, false_flag_budget=model.metadata["false_flag_budget"],
                                     metrics=model.metadata.get("metrics", {}),
                                     training_summary=model.metadata.get("training", {}), active=False))
        session.flush()
        if make_active and machine_code:
            machine = session.scalar(select(XrayMachine).where(XrayMachine.code == machine_code.upper()))
            assign_model(session, settings(), machine, model.version)
            due = [machine.code]
        elif make_active:
            activate(session, settings(), model.version)
            due = None
    calibrated = _calibrate_now(due) if make_active else []
    validation = model.metadata["metrics"]["validation"]
    click.echo(json.dumps({"version": model.version, "threshold": model.threshold,
                           "false_flag_budget": model.metadata["false_flag_budget"],
                           "metrics": {k: v for k, v in validation.items() if k != "roc"},
                           "machine": summary.get("machine"), "scans": len(bags),
                           "active": make_active, "calibrated_machines": calibrated}, ensure_ascii=False,
                          default=str))


def _calibrate_now(codes: list[str] | None) -> list[dict]:
    """After an operator's change of model: calibrate the machines it made due (of ``codes``; None: all) at once,
    one transaction each, instead of leaving them to the workers or the scheduler. Says so on stderr."""
    from greenshield.xray.services import calibrate_due, due_for_calibration

    with db.job_session(write=False) as session:
        codes = [machine.code for machine in due_for_calibration(session, codes=codes)]
    if codes:
        click.echo(f"Calibrating {len(codes)} machine(s) for their new model: {', '.join(codes)}", err=True)
    results = []
    for code in codes:
        with db.job_session(write=True) as session:
            for machine in due_for_calibration(session, codes=[code]):
                results.append(calibrate_due(session, settings(), machine))
    return results


@xray.command("assign")
@click.argument("machine_code")
@click.argument("version", required=False)
@with_appcontext
def assign(machine_code, version) -> None:
    """Score MACHINE_CODE's events with model VERSION (without VERSION: the active global model again); the
    machine is calibrated for it at once. Prints its calibration as JSON (``calibrated``: false when it has too
    few scans and the model's own threshold applies)."""
    from greenshield.errors import DomainError, exception_message
    from greenshield.xray.services import assign_model, unassign_model
    from models import XrayMachine

    try:
        with db.job_session() as session:
            machine = session.scalar(select(XrayMachine).where(XrayMachine.code == machine_code.upper()))
            if machine is None:
                raise click.ClickException(f"No X-ray machine {machine_code}.")
            if version:
                assign_model(session, settings(), machine, version)
            else:
                unassign_model(session, settings(), machine)
            code = machine.code
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    [result] = _calibrate_now([code])
    click.echo(json.dumps(result, ensure_ascii=False, default=str))


@xray.command("calibrate")
@click.option("--machine", "machine_code", help="Only this machine (default: every active machine).")
@with_appcontext
def calibrate(machine_code) -> None:
    """Choose each machine's threshold on its own recent scans (scored by the model it uses now) so that at most
    XRAY_FALSE_FLAG_BUDGET of them are flagged; machines with fewer than XRAY_CALIBRATION_MIN_SCANS eligible
    scans keep their model's threshold. Prints one JSON line per machine."""
    from greenshield.errors import DomainError, exception_message
    from greenshield.xray.services import calibrate_machines

    try:
        with db.job_session(write=True) as session:
            results = calibrate_machines(session, settings(), code=machine_code)
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    for result in results:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))


@xray.command("evaluate")
@click.argument("version", required=False)
@click.option("--benign", "benign_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Held-out benign bags: each is scored clean and with a projected threat.")
@click.option("--generated-bags", default=60, show_default=True, help="Procedural bags when --benign is omitted.")
@click.option("--labelled", "labelled_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder with benign/ and threat/ subfolders of real labelled scans, instead of pairs.")
@click.option("--roc", "roc_png", type=click.Path(dir_okay=False, path_type=Path), help="Write the ROC curve here.")
@click.option("--seed", default=1, show_default=True)
@with_appcontext
def evaluate(version, benign_dir, generated_bags, labelled_dir, roc_png, seed) -> None:
    """ROC AUC, recall and false-flag rate at the threshold, confusion matrix (default: the active model)."""
    import numpy as np

    from greenshield.xray.services import active_model, load_model
    from inspection.xray.evaluate import compute_metrics, evaluate_pairs, roc_plot_png
    from inspection.xray.procedural import ProceduralBags, random_threats
    from models import XrayModelVersion

    with db.job_session() as session:
        if version:
            row = session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == version))
            if row is None:
                raise click.ClickException(f"No model version {version}.")
            model = load_model(settings(), row)
        else:
            model, row = active_model(session, settings())
        version = row.version
    rng = np.random.default_rng(seed)
    if labelled_dir:
        paths = _images(labelled_dir / "benign") + _images(labelled_dir / "threat")
        labels = np.array([0 if p.parent.name == "benign" else 1 for p in paths])
        if len(set(labels)) < 2:
            raise click.ClickException(f"{labelled_dir} needs images in both benign/ and threat/.")
        scores = np.array([model.score(p.read_bytes()).score for p in paths])
        result = {"version": version, "kind": "labelled", **compute_metrics(labels, scores, model.threshold).as_dict()}
    else:
        bags = _images(benign_dir) if benign_dir else ProceduralBags(generated_bags, seed)
        evaluation = evaluate_pairs(model, bags, random_threats(40, rng), seed=seed, progress=_progress("evaluate"))
        labels, scores = evaluation.labels, evaluation.scores
        result = {"version": version, "kind": "pairs", **evaluation.as_dict()}
    if roc_png:
        roc_png.write_bytes(roc_plot_png(labels, scores, threshold=model.threshold, title=f"ROC {version}"))
        result["roc_png"] = str(roc_png)
    click.echo(json.dumps(result, ensure_ascii=False, default=str))


@xray.command("activate")
@click.argument("version")
@with_appcontext
def activate_cmd(version) -> None:
    """Make VERSION the active model (new events are scored by it), then calibrate the machines without a model of
    their own for it at once: one JSON line per machine."""
    from greenshield.errors import DomainError, exception_message
    from greenshield.xray.services import activate

    try:
        with db.job_session() as session:
            activate(session, settings(), version)
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    click.echo(f"Model {version} is active.", err=True)
    for result in _calibrate_now(None):
        click.echo(json.dumps(result, ensure_ascii=False, default=str))


@xray.command("list")
@with_appcontext
def list_cmd() -> None:
    """The registered models, the active one marked with *, and the machines that use each."""
    from greenshield.xray.services import ensure_default_model, model_usage
    from models import XrayModelVersion

    with db.job_session() as session:
        ensure_default_model(session, settings())
        usage = model_usage(session)
        for row in session.scalars(select(XrayModelVersion).order_by(XrayModelVersion.created_at)):
            auc = ((row.metrics or {}).get("validation") or row.metrics or {}).get("auc")
            machines = usage.get(row.version, [])
            click.echo(f"{'*' if row.active else ' '} {row.version:<32} threshold {row.threshold:.3f}"
                       f"{f'  AUC {auc:.3f}' if isinstance(auc, float) else ''}"
                       f"  machines: {', '.join(machines) if machines else '-'}")


@xray.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def import_cmd(source: Path) -> None:
    """Import events from a folder or zip holding manifest.csv (machine_code, waybill_no, scanned_at,
    operator_id, file) and the image files it names. All-or-nothing; prints a JSON summary."""
    from greenshield.errors import DomainError, exception_message
    from greenshield.xray.services import import_events, zip_reader

    def read_folder(name: str) -> bytes:
        path = (source / name).resolve()
        if source.resolve() not in path.parents:
            raise FileNotFoundError(name)
        return path.read_bytes()

    archive = zipfile.ZipFile(source) if source.is_file() else None
    try:
        with db.job_session(write=True) as session:
            counts = import_events(session, settings(), zip_reader(archive) if archive else read_folder)
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    finally:
        if archive is not None:
            archive.close()
    click.echo(json.dumps(counts))


@xray.command("export-labelled")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def export_labelled(target: Path) -> None:
    """Write reviewed images as labelled training data: TARGET/threat (seized, referred) and TARGET/benign
    (cleared), with labels.csv. Test images (TIP) and purged images are left out.

    Retrain on them with ``greenshield xray train --benign TARGET/benign`` and evaluate with
    ``greenshield xray evaluate VERSION --labelled TARGET``."""
    from greenshield.xray.services import read_image
    from models import XrayEvent, XrayReview

    counts = {"benign": 0, "threat": 0}
    with db.job_session() as session, open(_ensure(target) / "labels.csv", "w", newline="") as labels:
        out = csv.writer(labels)
        out.writerow(["file", "label", "decision", "category", "event_id", "machine_code", "scanned_at"])
        rows = session.scalars(select(XrayEvent).join(XrayReview, XrayReview.event_id == XrayEvent.id).where(
            XrayEvent.is_tip.is_(False), XrayEvent.image_purged_at.is_(None)).order_by(XrayEvent.id))
        for event in rows:
            label = "benign" if event.review.decision == "cleared" else "threat"
            name = f"{label}/{event.id}.{event.image_format}"
            (target / label).mkdir(exist_ok=True)
            (target / name).write_bytes(read_image(storage(), event))
            out.writerow([name, label, event.review.decision, event.review.category_code or "", event.id,
                          event.machine.code, event.scanned_at.isoformat()])
            counts[label] += 1
    click.echo(json.dumps(counts))


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@xray.command("purge")
@with_appcontext
def purge() -> None:
    """Delete images past the retention period (XRAY_RETENTION_DAYS) that are not evidence."""
    from greenshield.xray.services import purge_images
    from models import utcnow

    with db.job_session(write=True) as session:
        n = purge_images(session, storage(), now=utcnow(), retention_days=settings().xray_retention_days)
    click.echo(f"Purged {n} image(s).")


@xray.command("inject-tip")
@click.option("--count", default=5, show_default=True, help="Test images to put into the review queue.")
@click.option("--threat-share", default=0.7, show_default=True, help="Share of them carrying a projected threat.")
@click.option("--seed", type=int, help="Random seed (default: random).")
@with_appcontext
def inject_tip(count, threat_share, seed) -> None:
    """Threat image projection for reviewers: put test images (most with a projected threat) into the queue,
    indistinguishable from real ones; their decisions count as hits, misses and false alarms."""
    from greenshield.xray.tip import inject

    with db.job_session(write=True) as session:
        made = inject(session, settings(), count=count, threat_share=threat_share, seed=seed)
    click.echo(f"Injected {made} test image(s) into the review queue.")
