"""X-ray scan analysis: decode uploads safely, score how anomalous a scan is, show where, train and measure.

Arrays, bytes and paths in; plain dataclasses out. Nothing here touches the web app or the database, and
importing it loads no model (call :func:`load_default_model` or :meth:`TrainedModel.load`).

Typical use::

    model = load_default_model()
    result = model.score(upload_bytes)          # ScoreResult(score, flagged, heatmap, peak)
    heat_png = encode_png(result.heatmap)       # single-channel 8-bit, the scan's own size
    overlay = overlay_png(upload_bytes, result.heatmap)
"""

from inspection.xray.evaluate import (
    Metrics,
    PairEvaluation,
    compute_metrics,
    evaluate_labelled,
    evaluate_pairs,
    roc_plot_png,
    threshold_for_recall,
)
from inspection.xray.imaging import (
    InvalidImage,
    XrayImage,
    decode_image,
    decode_pixels,
    encode_png,
    from_array,
    image_dimensions,
    image_format,
    overlay_heatmap,
    overlay_png,
    to_display,
)
from inspection.xray.model import (
    ModelFileError,
    ScoreResult,
    TrainedModel,
    default_model_dir,
    load_default_model,
    train_model,
)
from inspection.xray.procedural import THREAT_KINDS, ProceduralBags, benign_bag, make_threat, random_threats
from inspection.xray.tip import Threat, project, project_threat

__all__ = [
    "THREAT_KINDS",
    "InvalidImage",
    "Metrics",
    "ModelFileError",
    "PairEvaluation",
    "ProceduralBags",
    "ScoreResult",
    "Threat",
    "TrainedModel",
    "XrayImage",
    "benign_bag",
    "compute_metrics",
    "decode_image",
    "decode_pixels",
    "default_model_dir",
    "encode_png",
    "evaluate_labelled",
    "evaluate_pairs",
    "from_array",
    "image_dimensions",
    "image_format",
    "load_default_model",
    "make_threat",
    "overlay_heatmap",
    "overlay_png",
    "project",
    "project_threat",
    "random_threats",
    "roc_plot_png",
    "threshold_for_recall",
    "to_display",
    "train_model",
]
