"""Benchmark metrics: pure NumPy, vectorised, one value per item unless said otherwise.

    accuracy                    mean of 0/1 correctness
    chance_adjusted_accuracy    (acc - chance) / (1 - chance): 0 at chance level, 1 when perfect
    mean_relative_accuracy      VSI-Bench MRA: fraction of thresholds theta in 0.50:0.95:0.05 with
                                |pred - gt| / |gt| < 1 - theta
    relative_l2_within          MultiSPA scalar/vector criterion: ||pred - gt|| <= 0.2 ||gt||
    pixel_within                MultiSPA coordinate criterion: ||pred - gt|| <= 0.05 * image width
    tapvid_metrics              TAP-Vid point-track metrics (occlusion accuracy, position accuracy
                                averaged over 1, 2, 4, 8, 16 px at 256 x 256, average Jaccard)
    bootstrap_ci                seeded percentile bootstrap of a mean (value counts for large N)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "accuracy",
    "chance_adjusted_accuracy",
    "MRA_THRESHOLDS",
    "mean_relative_accuracy",
    "relative_l2_within",
    "pixel_within",
    "TAPVID_THRESHOLDS",
    "tapvid_metrics",
    "bootstrap_ci",
]

MRA_THRESHOLDS = np.round(np.arange(0.50, 0.95 + 1e-9, 0.05), 2)  # 10 thresholds, VSI-Bench
TAPVID_THRESHOLDS = (1, 2, 4, 8, 16)  # pixels at 256 x 256


def accuracy(correct: np.ndarray) -> float:
    """correct: (N,) bool or 0/1 -> mean in [0, 1]; nan for N = 0."""
    c = np.asarray(correct, dtype=np.float64)
    return float(c.mean()) if c.size else float("nan")


def chance_adjusted_accuracy(acc: float, chance: float) -> float:
    """Rescale accuracy so chance level maps to 0 and perfect to 1 (can go negative).

    acc, chance: scalars in [0, 1]; chance is the mean per-item chance of the group
    (1/k for k options, 1/2 for yes/no, 0 for open answers). nan when chance >= 1.
    """
    if not np.isfinite(acc) or chance >= 1.0:
        return float("nan")
    return float((acc - chance) / (1.0 - chance))


def mean_relative_accuracy(
    pred: np.ndarray, gt: np.ndarray, thresholds: np.ndarray = MRA_THRESHOLDS
) -> np.ndarray:
    """VSI-Bench mean relative accuracy per item.

    pred: (N,) float (nan = unparsed, scores 0); gt: (N,) float, non-zero.
    Returns (N,) float in [0, 1]: mean over theta of 1[|pred - gt| / |gt| < 1 - theta].
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(pred - gt) / np.abs(gt)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    # exact match of a zero ground truth counts as relative error 0
    rel = np.where((gt == 0) & (pred == 0), 0.0, rel)
    hits = rel[:, None] < (1.0 - np.asarray(thresholds, dtype=np.float64))[None, :]
    return hits.mean(axis=1)


def relative_l2_within(pred: np.ndarray, gt: np.ndarray, tol: float = 0.2) -> np.ndarray:
    """MultiSPA scalar and vector criterion.

    pred, gt: (N,) or (N, D) float (nan in pred = unparsed). Returns (N,) bool:
    ||pred - gt||_2 <= tol * ||gt||_2.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim == 1:
        pred, gt = pred[:, None], gt[:, None]
    err = np.linalg.norm(pred - gt, axis=-1)
    ok = err <= tol * np.linalg.norm(gt, axis=-1)
    return ok & np.isfinite(err)


def pixel_within(pred: np.ndarray, gt: np.ndarray, width: np.ndarray, frac: float = 0.05) -> np.ndarray:
    """MultiSPA coordinate criterion.

    pred, gt: (N, 2) pixel coordinates; width: (N,) or scalar image width in pixels.
    Returns (N,) bool: ||pred - gt||_2 <= frac * width.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    err = np.linalg.norm(pred - gt, axis=-1)
    return (err <= frac * np.asarray(width, dtype=np.float64)) & np.isfinite(err)


def tapvid_metrics(
    pred_tracks: np.ndarray,
    pred_occluded: np.ndarray,
    gt_tracks: np.ndarray,
    gt_occluded: np.ndarray,
    image_size: tuple[float, float] = (256.0, 256.0),
    evaluation_mask: np.ndarray | None = None,
    thresholds: tuple[int, ...] = TAPVID_THRESHOLDS,
) -> dict[str, np.ndarray]:
    """TAP-Vid metrics per track (Doersch et al. 2022), coordinates rescaled to 256 x 256.

    pred_tracks, gt_tracks: (N, T, 2) float pixel (x, y) in an image of `image_size` = (H, W);
        nan in a prediction is a point the model did not place (never within any threshold).
    pred_occluded, gt_occluded: (N, T) bool.
    evaluation_mask: (N, T) bool, frames that count (TAP-Vid excludes the query frame);
        default all frames.
    Returns (N,) float arrays: "occlusion_accuracy", "pts_within_{t}", "jaccard_{t}" for each
    threshold t, "average_pts_within_thresh" and "average_jaccard". A track without a visible
    evaluated point gets nan position metrics.
    """
    pred_tracks = np.asarray(pred_tracks, dtype=np.float64)
    gt_tracks = np.asarray(gt_tracks, dtype=np.float64)
    pred_occ = np.asarray(pred_occluded, dtype=bool)
    gt_occ = np.asarray(gt_occluded, dtype=bool)
    if evaluation_mask is None:
        evaluation_mask = np.ones(gt_occ.shape, dtype=bool)
    ev = np.asarray(evaluation_mask, dtype=bool)
    h, w = float(image_size[0]), float(image_size[1])
    scale = np.array([256.0 / w, 256.0 / h])
    pred_s = pred_tracks * scale
    gt_s = gt_tracks * scale

    out: dict[str, np.ndarray] = {}
    n_eval = ev.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["occlusion_accuracy"] = ((pred_occ == gt_occ) & ev).sum(axis=1) / n_eval
    visible = ~gt_occ
    pred_visible = ~pred_occ
    sq = np.sum((pred_s - gt_s) ** 2, axis=-1)
    sq = np.where(np.isfinite(sq), sq, np.inf)
    within_all, jacc_all = [], []
    for t in thresholds:
        within = sq < float(t) ** 2
        is_correct = within & visible
        count_correct = (is_correct & ev).sum(axis=1)
        count_visible = (visible & ev).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = count_correct / count_visible
        tp = (is_correct & pred_visible & ev).sum(axis=1)
        false_pos = ((~visible) & pred_visible) | ((~is_correct) & pred_visible)
        fp = (false_pos & ev).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            jac = tp / (count_visible + fp)
        out[f"pts_within_{t}"] = frac
        out[f"jaccard_{t}"] = jac
        within_all.append(frac)
        jacc_all.append(jac)
    out["average_pts_within_thresh"] = np.mean(within_all, axis=0)
    out["average_jaccard"] = np.mean(jacc_all, axis=0)
    return out


def bootstrap_ci(
    scores: np.ndarray, n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    scores: (N,) float. Same seed, same interval. Returns (lo, hi); (nan, nan) for N = 0.

    Up to EXACT_BOOTSTRAP_DRAWS index draws (N * n_resamples) the resamples are drawn item by item.
    Above that, when the scores take few distinct values (0/1 accuracy, MRA's eleven levels), each
    resample is drawn as the counts of those values, multinomial(N, value frequencies): the same
    distribution of resample means, at a cost that does not grow with N (a different random
    stream, so the interval differs in its last digits from an item-by-item draw).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    if s.size * n_resamples > EXACT_BOOTSTRAP_DRAWS:
        values, counts = np.unique(s, return_counts=True)
        if values.size <= 256:
            draws = rng.multinomial(s.size, counts / s.size, size=n_resamples)
            means = draws @ values / s.size
            lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
            return (float(lo), float(hi))
    # chunks keep memory bounded on large benchmarks; still one seeded stream of draws
    chunk = max(1, min(n_resamples, 2_000_000 // s.size))
    means = np.concatenate([
        s[rng.integers(0, s.size, size=(min(chunk, n_resamples - i), s.size))].mean(axis=1)
        for i in range(0, n_resamples, chunk)
    ])
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


EXACT_BOOTSTRAP_DRAWS = 2_000_000  # N * n_resamples up to which resamples are drawn item by item (VLM4D: 1816 items)
