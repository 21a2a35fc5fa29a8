"""Line segments and vanishing points.

Segments come from OpenCV's LSD. Vanishing points are found by RANSAC over
pairs of segments, scored by the length of the segments that point at the
candidate, then refined by least squares. OpenCV ships no vanishing-point
estimator and no maintained PyPI package does this robustly, hence the small
solver here.

Coordinates are "normalised": pixels centred on the image centre and divided
by half the longer side, so homogeneous points stay well conditioned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSIS_SIDE = 1600  # LSD runs on the photo shrunk to this longer side
MIN_LENGTH = 0.015  # shortest segment kept, as a share of the longer side
ANGLE_TOL = np.radians(1.5)  # a segment points at a vanishing point within this
HYPOTHESES = 800


@dataclass(frozen=True)
class Segments:
    """N segments: endpoints (N, 4) as x1 y1 x2 y2 in photo pixels (pixel centres at +0.5)."""

    ends: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> float:
        return max(self.width, self.height) / 2

    @property
    def px_scale(self) -> float:
        """Half the longer side in the pixels LSD saw (angle tolerances are in those)."""
        return min(max(self.width, self.height), ANALYSIS_SIDE) / 2

    def normalised(self) -> np.ndarray:
        c = np.array([self.width / 2, self.height / 2] * 2)
        return (self.ends - c) / self.scale

    @property
    def length(self) -> np.ndarray:
        return np.hypot(self.ends[:, 2] - self.ends[:, 0], self.ends[:, 3] - self.ends[:, 1])

    def __len__(self) -> int:
        return len(self.ends)


def detect_segments(rgb: np.ndarray) -> Segments:
    import cv2

    h, w = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    shrink = min(1.0, ANALYSIS_SIDE / max(h, w))
    if shrink < 1.0:
        gray = cv2.resize(gray, (round(w * shrink), round(h * shrink)), interpolation=cv2.INTER_AREA)
    lsd = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD)
    found = lsd.detect(gray)[0]
    ends = np.zeros((0, 4)) if found is None else found.reshape(-1, 4).astype(float)
    ends = (ends + 0.5) / shrink  # LSD puts pixel centres on integers
    seg = Segments(ends, w, h)
    shortest = max(MIN_LENGTH * max(w, h), 12.0 / shrink)
    return Segments(ends[seg.length >= shortest], w, h)


def segment_lines(norm_ends: np.ndarray) -> np.ndarray:
    """Homogeneous lines (N, 3) with unit normals (a, b)."""
    p = np.c_[norm_ends[:, :2], np.ones(len(norm_ends))]
    q = np.c_[norm_ends[:, 2:], np.ones(len(norm_ends))]
    lines = np.cross(p, q)
    return lines / np.linalg.norm(lines[:, :2], axis=1, keepdims=True)


def angle_errors(norm_ends: np.ndarray, vps: np.ndarray) -> np.ndarray:
    """Angle (radians, 0..pi/2) between each segment and the direction from its midpoint to
    each vanishing point; vps (K, 3) homogeneous (w = 0 at infinity). Returns (K, N)."""
    mid = (norm_ends[:, :2] + norm_ends[:, 2:]) / 2
    d = norm_ends[:, 2:] - norm_ends[:, :2]
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    vps = np.atleast_2d(vps)
    to_v = vps[:, None, :2] - mid[None] * vps[:, None, 2:3]
    cross = to_v[..., 0] * d[:, 1] - to_v[..., 1] * d[:, 0]
    dot = to_v[..., 0] * d[:, 0] + to_v[..., 1] * d[:, 1]
    return np.arctan2(np.abs(cross), np.abs(dot))


def tolerance(length_norm: np.ndarray, px_scale: float) -> np.ndarray:
    """Per-segment angle tolerance: short segments have noisier directions (half a pixel at each end,
    in the pixels LSD saw: px_scale is half the longer side there)."""
    return np.maximum(ANGLE_TOL, 1.0 / np.maximum(length_norm * px_scale, 1.0))


def ransac_vp(
    norm_ends: np.ndarray,
    candidates: np.ndarray,
    rng: np.random.Generator,
    px_scale: float,
    accept=None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Best-supported vanishing point among segments ``candidates`` (bool mask).

    ``accept(vps) -> bool mask`` may veto hypotheses (e.g. orthogonality). Returns the
    refined point (3,) normalised to unit length, or None, and its inlier mask over all segments."""
    idx = np.flatnonzero(candidates)
    if len(idx) < 2:
        return None, np.zeros(len(norm_ends), bool)
    lines = segment_lines(norm_ends)
    length = np.hypot(*(norm_ends[:, 2:] - norm_ends[:, :2]).T)
    tol = tolerance(length, px_scale)
    p = length[idx] / length[idx].sum()
    a = rng.choice(idx, HYPOTHESES, p=p)
    b = rng.choice(idx, HYPOTHESES, p=p)
    keep = a != b
    vps = np.cross(lines[a[keep]], lines[b[keep]])
    vps /= np.maximum(np.linalg.norm(vps, axis=1, keepdims=True), 1e-12)
    if accept is not None and len(vps):
        vps = vps[accept(vps)]
    if not len(vps):
        return None, np.zeros(len(norm_ends), bool)
    weight = np.where(candidates, length, 0.0)
    scores = np.concatenate(
        [((angle_errors(norm_ends, chunk) < tol) * weight).sum(axis=1) for chunk in np.array_split(vps, 8)]
    )
    vp = vps[int(np.argmax(scores))]
    for _ in range(3):
        inliers = candidates & (angle_errors(norm_ends, vp)[0] < tol)
        if inliers.sum() < 2:
            break
        vp = refine_vp(lines[inliers], length[inliers], vp)
    inliers = candidates & (angle_errors(norm_ends, vp)[0] < tol)
    return vp, inliers


def refine_vp(lines: np.ndarray, weights: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """Least-squares point closest to all lines (smallest eigenvector of sum w l l^T)."""
    m = (lines * weights[:, None]).T @ lines
    _, vecs = np.linalg.eigh(m)
    vp = vecs[:, 0]
    return vp if vp @ guess >= 0 else -vp
