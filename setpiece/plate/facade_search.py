"""Where the facade is in the photo, and how many storeys it has.

The facade is found as the region where segments of the vertical family and of
one horizontal family are both dense (windows, mullions, cornices), nearest
the centre of the frame; its extent is read in rectified facade coordinates,
so its edges run exactly to the vanishing points. Storeys come from the
spectrum of the rectified facade's row profile: rows of windows repeat once
per storey.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.plate.lines import Segments
from setpiece.plate.vanishing import orient_along_facade

GRID_SIDE = 320  # evidence maps are computed at this longer side
RECTIFIED_HEIGHT = 512
MIN_PEAK_RATIO = 5.0  # storey peak power over the median power of the spectrum
MIN_STOREY_PX = 18  # a storey shorter than this in the photo is texture, not a storey
TEXTURE_SIGMA = 4.0  # rectified pixels: Gaussian damping of fine repeats (courses, tiles)


@dataclass(frozen=True)
class QuadCandidate:
    corners: np.ndarray  # (4, 2) pixels: top-left, top-right, bottom-right, bottom-left
    score: float
    rotation: np.ndarray  # the frame, turned so that +X runs left to right along this facade


def quad_from_hint(corners) -> np.ndarray:
    return np.asarray(corners, float).reshape(4, 2)


def auto_quad(rgb: np.ndarray, segs: Segments, f_px: float, rot: np.ndarray, families: np.ndarray):
    """The densest region of facade lines near the centre, as a rectangle on the facade plane."""
    import cv2

    h, w = rgb.shape[:2]
    g = GRID_SIDE / max(h, w)
    gw, gh = max(8, round(w * g)), max(8, round(h * g))
    maps = [np.zeros((gh, gw), np.float32) for _ in range(3)]
    for seg, fam in zip(segs.ends, families):
        if fam >= 0:
            p = np.round(seg * g).astype(int)
            cv2.line(maps[fam], (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), 1.0, 1)
    k = max(5, GRID_SIDE // 20)
    along, across, vertical = (cv2.boxFilter(m, -1, (k, k)) for m in maps)
    # lines along this facade and verticals, where lines of the side walls do not dominate
    evidence = np.sqrt(along * vertical) * along / (along + across + 1e-6)
    if evidence.max() <= 0:
        return None
    blob = (evidence > 0.2 * evidence.max()).astype(np.uint8)
    blob = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, labels, _, centroids = cv2.connectedComponentsWithStats(blob)
    best, best_score = 0, 0.0
    half_diag = np.hypot(gw, gh) / 2
    for i in range(1, n):
        off_centre = np.hypot(*(centroids[i] - [gw / 2, gh / 2])) / half_diag
        score = float(evidence[labels == i].sum()) * (1.0 - 0.6 * off_centre)
        if score > best_score:
            best, best_score = i, score
    if best == 0:
        return None
    K = np.array([[f_px, 0, w / 2], [0, f_px, h / 2], [0, 0, 1.0]])
    region = labels == best
    K = np.array([[f_px, 0, w / 2], [0, f_px, h / 2], [0, 0, 1.0]])
    rot = orient_along_facade(rot, K, (centroids[best] + 0.5) / g)
    along = _on_plane(_segment_points(segs.ends, families == 0), region, g, K, rot)
    across = _on_plane(_segment_points(segs.ends, families == 1), region, g, K, rot)
    upright = _on_plane(_segment_points(segs.ends, families == 2), region, g, K, rot)
    if len(along) < 8:
        return None
    # the side wall's verticals would widen the facade: its width comes from lines along it,
    # where they outnumber the lines across it
    x0, x1 = _facade_span(along[:, 0], across[:, 0])
    keep = (upright[:, 0] >= x0) & (upright[:, 0] <= x1)
    keep_along = (along[:, 0] >= x0) & (along[:, 0] <= x1)
    z0, z1 = np.percentile(np.r_[along[keep_along, 2], upright[keep, 2]], [1, 99])
    corners_w = np.array([[x0, 1, z1], [x1, 1, z1], [x1, 1, z0], [x0, 1, z0]])
    cam = corners_w @ rot.T @ K.T
    return QuadCandidate(cam[:, :2] / cam[:, 2:3], best_score * g**-2, rot)


def _facade_span(along_x: np.ndarray, across_x: np.ndarray, bins: int = 48) -> tuple[float, float]:
    """The run of plane x around the facade's middle where lines along it dominate."""
    lo, hi = np.percentile(along_x, [1, 99])
    if hi <= lo:
        return float(lo), float(hi)
    edges = np.linspace(lo, hi, bins + 1)
    kernel = np.ones(3) / 3
    a = np.convolve(np.histogram(along_x, edges)[0], kernel, "same")
    c = np.convolve(np.histogram(across_x, edges)[0], kernel, "same") if len(across_x) else np.zeros(bins)
    ok = (a > 0) & (a >= c)
    mid = int(np.clip(np.searchsorted(edges, np.median(along_x)) - 1, 0, bins - 1))
    if not ok[mid]:
        return float(lo), float(hi)
    left, right = mid, mid
    while left > 0 and ok[left - 1]:
        left -= 1
    while right < bins - 1 and ok[right + 1]:
        right += 1
    return float(edges[left]), float(edges[right + 1])


def _on_plane(pts: np.ndarray, region: np.ndarray, g: float, K: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Points inside ``region`` (a grid mask at scale g) on the facade plane y = 1 (world axes)."""
    gh, gw = region.shape
    inside = region[np.clip((pts[:, 1] * g).astype(int), 0, gh - 1), np.clip((pts[:, 0] * g).astype(int), 0, gw - 1)]
    rays = (np.c_[pts[inside], np.ones(inside.sum())] @ np.linalg.inv(K).T) @ rot
    rays = rays[rays[:, 1] > 1e-6]
    return rays / rays[:, 1:2]


def _segment_points(ends: np.ndarray, chosen: np.ndarray, step: float = 3.0) -> np.ndarray:
    """Points every ``step`` pixels along the chosen segments."""
    out = []
    for seg, pick in zip(ends, chosen):
        if pick:
            n = max(2, int(np.hypot(seg[2] - seg[0], seg[3] - seg[1]) / step))
            t = np.linspace(0, 1, n)[:, None]
            out.append(seg[:2] * (1 - t) + seg[2:] * t)
    return np.vstack(out) if out else np.zeros((0, 2))


def rectify(rgb: np.ndarray, quad: np.ndarray, aspect: float, height: int = RECTIFIED_HEIGHT) -> np.ndarray:
    """The facade seen straight on: (height, height * aspect) image."""
    import cv2

    width = int(np.clip(round(height * aspect), 16, 4 * height))
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    hom = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(rgb, hom, (width, height), flags=cv2.INTER_AREA)


def storey_spectrum(rgb: np.ndarray, quad: np.ndarray, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """(cycles per facade height, power) of the rectified facade's row profile."""
    face = rectify(rgb, quad, aspect).astype(np.float32).mean(axis=2)
    seen = rectify(np.full(rgb.shape[:2], 255, np.uint8), quad, aspect) > 250  # inside the photo
    w = face.shape[1]
    cols = slice(int(0.05 * w), max(int(0.95 * w), 1))
    face, seen = face[:, cols], seen[:, cols]
    count = seen.sum(axis=1)
    rows = count > 0.2 * face.shape[1]
    if rows.sum() < 16:
        return np.zeros(1), np.zeros(1)
    profile = (face * seen).sum(axis=1) / np.maximum(count, 1)
    idx = np.arange(len(profile))
    profile = np.interp(idx, idx[rows], profile[rows])  # rows outside the photo carry no pattern
    profile = profile - np.polyval(np.polyfit(np.arange(len(profile)), profile, 1), np.arange(len(profile)))
    pad = 8 * len(profile)
    power = np.abs(np.fft.rfft(profile * np.hanning(len(profile)), pad)) ** 2
    freq = np.fft.rfftfreq(pad, 1.0 / len(profile))
    return freq, power


def estimate_storeys(rgb: np.ndarray, quad: np.ndarray, aspect: float) -> int | None:
    """Storeys as the dominant repeat of the facade's rows, or None when nothing repeats clearly.

    A storey spans at least MIN_STOREY_PX of the photo (brick courses and tiles repeat faster),
    and slow changes (a dark ground floor under a bright facade) are damped below 3 cycles."""
    freq, power = storey_spectrum(rgb, quad, aspect)
    tall = max(np.hypot(*(quad[3] - quad[0])), np.hypot(*(quad[2] - quad[1])))
    band = (freq >= 1.5) & (freq <= min(60.0, tall / MIN_STOREY_PX))
    if not band.any():
        return None
    power = power * np.clip(freq / 3.0, 0.0, 1.0) * np.exp(-2 * (np.pi * TEXTURE_SIGMA * freq / RECTIFIED_HEIGHT) ** 2)
    peak = int(np.argmax(np.where(band, power, 0)))
    if power[peak] < MIN_PEAK_RATIO * np.median(power[band]):
        return None
    return max(1, int(round(freq[peak])))
