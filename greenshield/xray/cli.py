"""``greenshield xray ...``: train, evaluate, activate and list models; import events; purge; TIP injection."""
from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import zipfile
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from greenshield import db
from greenshield.context import settings, storage

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


@xray.command("train")
@click.option("--benign", "benign_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of benign bag scans; omitted: procedurally generated bags.")
@click.option("--generated-bags", default=120, show_default=True, help="Procedural bags when --benign is omitted.")
@click.option("--threats", default=360, show_default=True, help="Procedural threat objects to project.")
@click.option("--threats-per-bag", default=4, show_default=True, help="Threats projected into each bag.")
@click.option("--target-recall", default=0.95, show_default=True, help="The operating threshold is chosen for this recall.")
@click.option("--workers", default=2, show_default=True, help="Processes for feature extraction.")
@click.option("--seed", default=0, show_default=True)
@click.option("--version", help="Version name (default: a timestamp).")
@click.option("--activate", "make_active", is_flag=True, help="Activate the model when trained.")
@with_appcontext
def train(benign_dir, generated_bags, threats, threats_per_bag, target_recall, workers, seed, version,
          make_active) -> None:
    """Train a model by projecting threats into benign bags; register it (inactive unless --activate).

    A centre retrains on a folder of its own clean scans (--benign); without one, procedural bags are used,
    as for the shipped default model. See docs/xray.md "Retraining on a centre's own scans".
    """
    import numpy as np

    from inspection.xray.model import train_model
    from inspection.xray.procedural import THREAT_KINDS, ProceduralBags, random_threats
    from models import XrayModelVersion

    if threats < 1 or threats_per_bag < 1 or workers < 1 or not 0 < target_recall < 1:
        raise click.BadParameter("--threats, --threats-per-bag and --workers are >= 1; 0 < --target-recall < 1.")
    bags = _images(benign_dir) if benign_dir else ProceduralBags(generated_bags, seed)
    if not len(bags):
        raise click.ClickException(f"No PNG, JPEG or TIFF images in {benign_dir}.")
    version = version or dt.datetime.now(dt.timezone.utc).strftime("gs-%Y%m%d-%H%M%S")
    model = train_model(bags, random_threats(threats, np.random.default_rng([seed, 3]), THREAT_KINDS), seed=seed,
                        threats_per_bag=threats_per_bag, target_recall=target_recall, workers=workers,
                        version=version, description=f"benign: {benign_dir or f'{generated_bags} generated bags'}",
                        progress=_progress("train"))
    relative = Path("xray") / "models" / version
    model.save(settings().instance_path / relative)
    with db.job_session() as session:
        if session.scalar(select(XrayModelVersion).where(XrayModelVersion.version == model.version)):
            raise click.ClickException(f"Model version {model.version} exists already.")
        session.add(XrayModelVersion(version=model.version, location=str(relative), threshold=model.threshold,
                                     target_recall=target_recall, metrics=model.metadata.get("metrics", {}),
                                     training_summary=model.metadata.get("training", {}), active=False))
        session.flush()
        if make_active:
            from greenshield.xray.services import activate
            activate(session, settings(), model.version)
    click.echo(json.dumps({"version": model.version, "threshold": model.threshold,
                           "metrics": model.metadata.get("metrics", {}), "active": make_active}, ensure_ascii=False))


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
    """Make VERSION the active model (new events are scored by it)."""
    from greenshield.errors import DomainError, exception_message
    from greenshield.xray.services import activate

    try:
        with db.job_session() as session:
            activate(session, settings(), version)
    except DomainError as exc:
        raise click.ClickException(exception_message(exc)) from None
    click.echo(f"Model {version} is active.")


@xray.command("list")
@with_appcontext
def list_cmd() -> None:
    """The registered models, the active one marked with *."""
    from greenshield.xray.services import ensure_default_model
    from models import XrayModelVersion

    with db.job_session() as session:
        ensure_default_model(session, settings())
        for row in session.scalars(select(XrayModelVersion).order_by(XrayModelVersion.created_at)):
            auc = (row.metrics or {}).get("auc")
            click.echo(f"{'*' if row.active else ' '} {row.version:<32} threshold {row.threshold:.3f}"
                       f"{f'  AUC {auc:.3f}' if isinstance(auc, float) else ''}")


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
