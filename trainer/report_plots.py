"""The bundle report's figures: accuracy against size with labels that never overlap, and ROC
curves a reader can tell apart (every curve its own colour AND line style).

Beat models score so well that their ROC curves hug the top-left corner at linear scale; their
false-positive axis is logarithmic (1e-4 to 1), where the differences live. Matplotlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Okabe-Ito colours (readable with the common colour-vision deficiencies), yellow left out as
# too pale on white; seven colours against four line styles give 28 distinct pairs, each
# successive curve changing both.
COLOURS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
LINESTYLES = ("-", "--", "-.", ":")
LOG_FPR_FLOOR = 1e-4  # the log axis' left end: 1 false positive in 10,000 negatives


def curve_style(i: int) -> dict[str, str]:
    """The i-th curve's colour and line style: unique for the first 28 curves."""
    return {"color": COLOURS[i % len(COLOURS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}


@dataclass(frozen=True)
class Curve:
    """One ROC curve: its label and the truth and scores it is drawn from."""

    label: str
    truth: np.ndarray
    score: np.ndarray


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---- labels that do not overlap ------------------------------------------------------------


def place_labels(
    points: np.ndarray,
    size: tuple[float, float],
    marker: float = 4.0,
    step: float = 2.0,
    bounds: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """Centres for one label box (`size`: width, height) per point, in display units, such
    that no two boxes overlap and no box covers a point's marker (radius `marker`).

    Greedy, in the order given: each label takes the nearest free spot on rings of growing
    radius around its point (12 directions per ring, right of the point first), inside `bounds`
    (x0, y0, x1, y1: the axes) while one is free within 40 rings, else anywhere. A free spot
    always exists far enough out, so every label is placed. Points must be finite."""
    w, h = size
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if not np.isfinite(pts).all():
        raise ValueError("place_labels needs finite points")
    placed: list[np.ndarray] = []
    angles = np.deg2rad(np.arange(0, 360, 30))
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for p in pts:
        ring = 1
        while True:
            spots = p + (marker + step * ring + max(w, h) / 2) * directions
            free = [s for s in spots if _free(s, w, h, placed, pts, marker)]
            inside = [s for s in free if bounds is None or _inside(s, w, h, bounds)]
            if inside or (free and ring > 40):
                placed.append((inside or free)[0])
                break
            ring += 1
    return np.array(placed).reshape(-1, 2)


def _inside(c: np.ndarray, w: float, h: float, bounds: tuple[float, ...]) -> bool:
    x0, y0, x1, y1 = bounds
    return x0 <= c[0] - w / 2 and c[0] + w / 2 <= x1 and y0 <= c[1] - h / 2 and c[1] + h / 2 <= y1


def _free(c: np.ndarray, w: float, h: float, placed, points: np.ndarray, marker: float) -> bool:
    """A box centred at `c` clear of the boxes placed and of every point's marker."""
    for q in placed:
        if abs(c[0] - q[0]) < w and abs(c[1] - q[1]) < h:
            return False
    dx = np.maximum(np.abs(points[:, 0] - c[0]) - w / 2, 0)
    dy = np.maximum(np.abs(points[:, 1] - c[1]) - h / 2, 0)
    return bool(np.all(np.hypot(dx, dy) > marker))


# ---- accuracy against size ------------------------------------------------------------------


@dataclass(frozen=True)
class SizePoint:
    """One stage in the accuracy-versus-size plot."""

    label: str
    kb: float
    score: float
    kind: str  # "torch fp32", "onnx fp32", "onnx int8" (a refused one says so after)


MARKERS = {"torch": "o", "onnx fp32": "s", "onnx int8": "^"}


def _marker(kind: str) -> str:
    return next((m for k, m in MARKERS.items() if kind.startswith(k)), "o")


def plot_accuracy_vs_size(points: list[SizePoint], metric: str, title: str, path: Path) -> None:
    """Numbered markers (shape by model kind) with numbers placed clear of each other, and the
    key beside the axes: number, stage, size and score."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10.5, 4.8))
    shown = {i: p for i, p in enumerate(points) if np.isfinite(p.score) and p.kb > 0}
    for i, p in shown.items():
        ax.scatter(p.kb, p.score, marker=_marker(p.kind), s=36, zorder=3, **_colour(i))
    _pad_limits(ax, list(shown.values()))
    _log_axis(ax)
    ax.set_xlabel("model size, KB (ONNX file, or fp32 weights for torch)")
    ax.set_ylabel(metric)
    fig.suptitle(title, fontsize=9, x=0.08, ha="left")
    ax.grid(True, which="both", lw=0.3, alpha=0.5)
    fig.subplots_adjust(left=0.08, right=0.55, bottom=0.11, top=0.91)
    _number_points(fig, ax, shown)
    key = [
        f"{i + 1:>2}  {p.label}: {p.kb:,.0f} KB, "
        + (f"{p.score:.3f}" if i in shown else "score undefined, not drawn")
        for i, p in enumerate(points)
    ]
    key += ["", "o torch fp32   s ONNX fp32   ^ ONNX int8"]
    fig.text(0.575, 0.91, "\n".join(key), va="top", ha="left", fontsize=7, family="monospace")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _log_axis(ax) -> None:
    """A log size axis labelled at its decades only, in plain numbers (10, 100, 1000): the
    minor ticks' labels of a narrow log axis run into each other."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    subs = (1.0, 2.0, 5.0) if hi / lo <= 100 else (1.0,)  # 1-2-5 steps on a short axis
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _colour(i: int) -> dict[str, str]:
    return {"color": COLOURS[i % len(COLOURS)]}


def _pad_limits(ax, points: list[SizePoint]) -> None:
    kb = np.array([p.kb for p in points] or [1.0])
    score = np.array([p.score for p in points] or [0.5])
    ax.set_xscale("log")
    ax.set_xlim(kb.min() / 2, kb.max() * 2)
    span = max(float(np.ptp(score)), 0.01)
    ax.set_ylim(score.min() - 0.15 * span, score.max() + 0.15 * span)


def _number_points(fig, ax, points: dict[int, SizePoint]) -> None:
    """Each point's number (its place in the key), placed by `place_labels` in pixels, with a
    leader line when the number had to move away from its point."""
    if not points:
        return
    fig.canvas.draw()
    xy = ax.transData.transform([(p.kb, p.score) for p in points.values()])
    size = (16.0, 11.0)  # a two-digit number at 7 points, in pixels at 110 dpi, with a margin
    centres = place_labels(xy, size, bounds=tuple(ax.bbox.extents))
    inverse = ax.transData.inverted()
    for (i, point), p, c in zip(points.items(), xy, centres, strict=True):
        at = inverse.transform(c)
        far = np.hypot(*(c - p)) > 15  # beyond the first ring
        ax.annotate(
            str(i + 1),
            (point.kb, point.score),
            xytext=at,
            textcoords="data",
            ha="center",
            va="center",
            fontsize=7,
            color=COLOURS[i % len(COLOURS)],
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.4"} if far else None,
        )


# ---- ROC --------------------------------------------------------------------------------------


def plot_roc_panels(panels: dict[str, list[Curve]], log_fpr: bool, title: str, path: Path) -> None:
    """One axes per panel, one styled curve per entry with its AUC in the legend; `log_fpr`:
    a logarithmic false-positive axis from 1e-4 (beats), else linear."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(max(5.2 * n, 7.0), 4.8), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels.items(), strict=True):
        for i, c in enumerate(curves):
            if not 0 < c.truth.sum() < len(c.truth):
                continue  # one label only: no ROC
            fpr, tpr, _ = roc_curve(c.truth, c.score)
            auc = roc_auc_score(c.truth, c.score)
            if log_fpr:
                fpr = np.maximum(fpr, LOG_FPR_FLOOR)
            ax.plot(fpr, tpr, lw=1.3, label=f"{c.label} (AUC {auc:.3f})", **curve_style(i))
        _roc_axes(ax, name, log_fpr)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _roc_axes(ax, name: str, log_fpr: bool) -> None:
    grid = np.logspace(np.log10(LOG_FPR_FLOOR), 0, 50) if log_fpr else np.array([0.0, 1.0])
    ax.plot(grid, grid, color="0.6", lw=0.6, linestyle=":", label="chance")
    if log_fpr:
        ax.set_xscale("log")
        ax.set_xlim(LOG_FPR_FLOOR, 1)
        ax.set_xlabel("false positive rate (log scale)")
    else:
        ax.set_xlim(0, 1)
        ax.set_xlabel("false positive rate")
    ax.set_ylim(0, 1.01)
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title(name, fontsize=9)
    ax.grid(True, which="major", lw=0.3, alpha=0.5)
    ax.legend(fontsize=6.5, loc="lower right")
