"""Clean plate: the photo with the building taken out.

Above the neighbours' skyline the hole is filled with sky: a smooth quadratic
fitted to the sky around the building, plus grain matched to that sky. Below
it (street, next buildings) OpenCV's Telea inpainting fills the hole from the
street and buildings beside it (the sky held out), first at low resolution, so
a hole a third of the frame wide fills from its whole surroundings in
milliseconds instead of smearing its edge inwards, then at full resolution on
a thin seam.

Patch-based methods were measured and set aside: OpenCV contrib's xphoto
shift-map inpainting (patch-based, and the most convincing) took 54 s on the
751x563 Leuven photo on 2 cores, its FSR 14 s with a blurrier result, and
both need the contrib wheel in place of the plain one; the exemplar
(Criminisi) packages on PyPI are single-author and unmaintained. The fill
below the skyline is therefore soft: a base for paint-out, and what the dust
passes over.
"""

from __future__ import annotations

import numpy as np

INPAINT_SIDE = 192  # the coarse fill's longer side
SKY_MIN_SHARE = 0.01  # sky must cover this share of the photo to be modelled
WORK_PIXELS = 2_000_000  # larger photos are filled at this size


def clean_plate(image: np.ndarray, facade, grow_px: int | None = None, seed: int = 0) -> np.ndarray:
    """The photo (H, W, 3) uint8 with the region ``facade`` removed: a bool mask (H, W) or a pixel
    polygon (N, 2). The region is grown by ``grow_px`` (default ~0.6% of the diagonal) to take
    the edge's halo too; pixels outside the grown region are returned unchanged. Photos above
    ``WORK_PIXELS`` are filled at that size (the fill is soft anyway) and pasted back."""
    import cv2

    rgb = np.asarray(image)
    h, w = rgb.shape[:2]
    mask = _as_mask(facade, h, w)
    grow = grow_px if grow_px is not None else max(2, round(0.006 * np.hypot(h, w)))
    if grow > 0:
        mask = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5) <= grow
    if not mask.any():
        return rgb.copy()
    if h * w <= WORK_PIXELS:
        filled = _fill(rgb, mask, seed)
    else:
        s = np.sqrt(WORK_PIXELS / (h * w))
        size = (max(1, round(w * s)), max(1, round(h * s)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        filled = cv2.resize(_fill(small, small_mask, seed), (w, h), interpolation=cv2.INTER_CUBIC)
    result = rgb.copy()
    result[mask] = filled[mask]
    return result


def _fill(rgb: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
    """The photo with the hole ``mask`` filled: sky above the skyline, inpainting below."""
    h, w = mask.shape
    out = rgb.astype(np.float32)
    sky = sky_mask(rgb, mask)
    filled = mask.copy()
    if sky.sum() > SKY_MIN_SHARE * h * w:
        above = _above_skyline(rgb, sky, mask)
        out[above] = _sky_model(rgb, sky, above, seed)
        filled &= ~above
    if filled.any():
        # the street and what stands behind come from beside and below, not from the new sky
        ground = _inpaint(rgb.astype(np.float32), mask | sky)
        out[filled] = ground[filled]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _as_mask(facade, h: int, w: int) -> np.ndarray:
    import cv2

    arr = np.asarray(facade)
    if arr.dtype == bool and arr.shape == (h, w):
        return arr.copy()
    if arr.ndim == 2 and arr.shape[1] == 2 and len(arr) >= 3:
        m = np.zeros((h, w), np.uint8)
        cv2.fillPoly(m, [np.round(arr * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        return m.astype(bool)
    raise ValueError("facade must be a bool mask the size of the photo or an (N, 2) pixel polygon")


def sky_mask(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Smooth, bright regions outside the hole connected to the top of the frame."""
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blur = cv2.GaussianBlur(gray, (0, 0), 1.5)
    grad = np.hypot(cv2.Sobel(blur, cv2.CV_32F, 1, 0), cv2.Sobel(blur, cv2.CV_32F, 0, 1))
    smooth = (grad < 12.0) & ~hole & (blur > np.percentile(blur, 30))
    smooth = cv2.morphologyEx(smooth.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels = cv2.connectedComponents(smooth)
    top = set(np.unique(labels[0])) - {0}
    return np.isin(labels, list(top)) if top else np.zeros_like(hole)


def _down_to_edge(rgb: np.ndarray, line: np.ndarray, reach: int = 6, tol: float = 10.0) -> np.ndarray:
    """The sky mask stops a few pixels short of the skyline (its blur and gradient margin):
    follow each column down while the colour stays that of the sky's lowest pixel."""
    h, w = rgb.shape[:2]
    cols = np.arange(w)
    base = rgb[np.clip(line.astype(int), 0, h - 1), cols].astype(float)
    out = line.copy()
    going = line >= 0
    for k in range(1, reach + 1):
        row = np.clip(line.astype(int) + k, 0, h - 1)
        going &= np.abs(rgb[row, cols].astype(float) - base).max(axis=1) < tol
        out[going] = line[going] + k
    return out


def _above_skyline(rgb: np.ndarray, sky: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Hole pixels above the skyline interpolated across the hole from the sky beside it."""
    h, w = sky.shape
    rows = np.arange(h)[:, None]
    # per column: the lowest sky pixel in the run of sky starting at the top (-1: no sky there)
    below_top = np.cumprod(sky | hole, axis=0).astype(bool) & sky
    line = np.where(below_top.any(axis=0), h - 1 - np.argmax(below_top[::-1], axis=0), -1).astype(float)
    known = ~hole.any(axis=0)
    cols = np.arange(w)
    if known.sum() < 2:
        return np.zeros_like(hole)
    line = _down_to_edge(rgb, line)
    skyline = np.interp(cols, cols[known], line[known])
    # only where the hole meets the sky (or the top of the frame): under a roof it is not sky
    first = np.where(hole.any(axis=0), np.argmax(hole, axis=0), h)
    near = np.arange(1, 21)[:, None]  # the roof edge may sit a few pixels above the region
    above = np.clip(first[None, :] - near, 0, h - 1)
    meets_sky = (first == 0) | sky[above, cols[None, :]].any(axis=0)
    return hole & (rows <= skyline[None, :]) & meets_sky[None, :]


def _sky_model(rgb: np.ndarray, sky: np.ndarray, where: np.ndarray, seed: int) -> np.ndarray:
    """Quadratic in x, y per channel fitted to the sky, plus matched grain, at ``where``."""
    ys, xs = np.nonzero(sky)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(xs), min(len(xs), 20000), replace=False)
    ys, xs = ys[pick], xs[pick]
    h, w = sky.shape

    def basis(x, y):
        x, y = x / w, y / h
        return np.c_[np.ones_like(x), x, y, x * x, x * y, y * y]

    coef, *_ = np.linalg.lstsq(basis(xs, ys), rgb[ys, xs].astype(np.float64), rcond=None)
    spread = (rgb[ys, xs] - basis(xs, ys) @ coef).std(axis=0)
    ty, tx = np.nonzero(where)
    return basis(tx, ty) @ coef + rng.normal(0.0, 1.0, (len(tx), 3)) * spread


def _inpaint(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Telea inpainting at low resolution for the body of the hole, then at full resolution on its seam."""
    import cv2

    h, w = hole.shape
    s = min(1.0, INPAINT_SIDE / max(h, w))
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    coarse = cv2.inpaint(np.clip(small, 0, 255).astype(np.uint8), small_hole, 3, cv2.INPAINT_TELEA)
    up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    out = img.copy()
    out[hole] = up[hole]
    # re-inpaint a seam along the hole's edge so the coarse fill meets the photo without a step
    seam = hole & ~cv2.erode(hole.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    fine = cv2.inpaint(np.clip(out, 0, 255).astype(np.uint8), seam.astype(np.uint8), 4, cv2.INPAINT_TELEA)
    out[seam] = fine[seam]
    return out
