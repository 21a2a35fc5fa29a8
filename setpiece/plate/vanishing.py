"""Three orthogonal vanishing directions (Manhattan world) and the focal length.

Order: the vertical vanishing point among near-vertical segments, then up to
two horizontal ones among the rest, each hypothesis vetoed unless some focal
length in the plausible range makes it orthogonal to those already found. The
focal length comes from pairs of finite vanishing points (``f^2 = -a.b`` with
the principal point at the centre), then focal length and rotation are refined
together by least squares on the angles of all assigned segments (scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from setpiece.plate.lines import Segments, angle_errors, ransac_vp

F_RANGE = (0.4, 20.0)  # focal length in half-long-sides: about 7 mm to 360 mm full-frame equivalent
F_GRID = np.geomspace(*F_RANGE, 40)
ORTHO_TOL = np.sin(np.radians(4.0))
MIN_SUPPORT = 0.04  # a family needs this share of all segment length


@dataclass(frozen=True)
class VanishingPoints:
    """Homogeneous points in normalised coordinates (see lines.py) and their inlier segments."""

    vertical: np.ndarray | None
    horizontal: tuple[np.ndarray, ...]
    inliers: tuple[np.ndarray, ...]  # vertical's, then each horizontal's (bool over segments)


def find_vanishing_points(segs: Segments, f_hint: float | None = None) -> VanishingPoints:
    norm = segs.normalised()
    rng = np.random.default_rng(0)
    length = np.hypot(*(norm[:, 2:] - norm[:, :2]).T)
    total = max(length.sum(), 1e-12)
    tilt = np.arctan2(np.abs(norm[:, 2] - norm[:, 0]), np.abs(norm[:, 3] - norm[:, 1]))  # 0 = vertical
    vz, in_z = ransac_vp(norm, tilt < np.radians(30), rng, segs.px_scale, _not_horizon_like)
    if vz is None or length[in_z].sum() < MIN_SUPPORT * total:
        return VanishingPoints(None, (), ())
    found: list[np.ndarray] = []
    inliers = [in_z]
    free = ~in_z & (tilt > np.radians(12))
    for _ in range(2):
        accept = _orthogonal_to([vz, *found], f_hint)
        vh, in_h = ransac_vp(norm, free, rng, segs.px_scale, accept)
        if vh is None or length[in_h].sum() < MIN_SUPPORT * total:
            break
        found.append(vh)
        inliers.append(in_h)
        free &= ~in_h
    return VanishingPoints(vz, tuple(found), tuple(inliers))


def _not_horizon_like(vps: np.ndarray) -> np.ndarray:
    """The vertical point lies far above or below the centre, not beside it."""
    return np.abs(vps[:, 1]) > 0.8 * np.abs(vps[:, 0])


def _orthogonal_to(known: list[np.ndarray], f_hint: float | None):
    """Veto for hypotheses: some focal length (the hint, or any in range) makes them orthogonal to all known."""
    grid = np.array([f_hint]) if f_hint else F_GRID

    def accept(vps: np.ndarray) -> np.ndarray:
        ok = np.zeros((len(vps), len(grid)), bool) | True
        for k in known:
            ok &= np.abs(_cosines(vps, k, grid)) < ORTHO_TOL
        return ok.any(axis=1)

    return accept


def _cosines(vps: np.ndarray, other: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """cos of the 3D angle between directions K^-1 v and K^-1 other, for each focal in grid: (N, G)."""
    f = grid[None, :]
    a = np.stack([vps[:, 0:1] / f, vps[:, 1:2] / f, np.broadcast_to(vps[:, 2:3], (len(vps), len(grid)))], -1)
    b = np.stack([other[0] / grid, other[1] / grid, np.full(len(grid), other[2])], -1)
    dot = (a * b[None]).sum(-1)
    return dot / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)[None])


def focal_from_pairs(points: list[np.ndarray]) -> float | None:
    """Median focal length from pairs of well-finite orthogonal vanishing points, or None if unobservable."""
    estimates = []
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            a, b = points[i], points[j]
            if min(abs(a[2]) / np.linalg.norm(a), abs(b[2]) / np.linalg.norm(b)) < 0.03:
                continue  # a point near infinity says nothing about the focal length
            f2 = -(a[0] * b[0] + a[1] * b[1]) / (a[2] * b[2])
            if F_RANGE[0] ** 2 < f2 < F_RANGE[1] ** 2:
                estimates.append(np.sqrt(f2))
    return float(np.median(estimates)) if estimates else None


def rotation_from_vps(f: float, vertical: np.ndarray, facade: np.ndarray) -> np.ndarray:
    """Camera-from-world rotation (OpenCV camera: x right, y down, z forward) whose world Z is up
    and world X runs along the facade, left to right."""
    z = _direction(f, vertical)
    z = -z if z[1] > 0 else z  # world up points up the image (y down)
    x = _direction(f, facade)
    x = x - (x @ z) * z
    x /= np.linalg.norm(x)
    x = -x if x[0] < 0 else x
    return np.column_stack([x, np.cross(z, x), z])


def orient_along_facade(rotation: np.ndarray, K: np.ndarray, pixel) -> np.ndarray:
    """Turn the frame half round Z, if needed, so that walking along +X from the facade at
    ``pixel`` moves right in the image (the facade's left end is image left, its outside
    faces the camera), whichever side of the centre the vanishing point lies."""
    p = np.linalg.inv(K) @ np.array([pixel[0], pixel[1], 1.0])
    x = rotation[:, 0]
    if x[0] - p[0] * x[2] < 0:
        return rotation @ np.diag([-1.0, -1.0, 1.0])
    return rotation


def _direction(f: float, vp: np.ndarray) -> np.ndarray:
    d = np.array([vp[0] / f, vp[1] / f, vp[2]])
    return d / np.linalg.norm(d)


def refine(
    norm: np.ndarray, px_scale: float, families: list[np.ndarray], f: float, rotation: np.ndarray, fix_f: bool
) -> tuple[float, np.ndarray]:
    """Least-squares focal length and rotation from segments assigned to world axes X, Y, Z
    (families[k] = bool mask over segments; an empty mask leaves that axis free)."""
    # an angle error times the segment's length is the offset of its ends, in pixels
    weight = np.hypot(*(norm[:, 2:] - norm[:, :2]).T) * px_scale

    def unpack(p):
        ff = f if fix_f else float(np.exp(p[3]))
        return ff, Rotation.from_rotvec(p[:3]).as_matrix() @ rotation

    def residuals(p):
        ff, rot = unpack(p)
        out = []
        for axis, mask in enumerate(families):
            if mask.any():
                vp = np.array([ff * rot[0, axis], ff * rot[1, axis], rot[2, axis]])
                out.append(angle_errors(norm[mask], vp)[0] * weight[mask])
        return np.concatenate(out)

    if sum(int(m.sum()) for m in families) < 2:
        return f, rotation  # nothing to refine against (the frame came from the user's corners)
    p0 = np.zeros(3 if fix_f else 4)
    if not fix_f:
        p0[3] = np.log(f)
    fit = least_squares(residuals, p0, loss="soft_l1", f_scale=1.5, x_scale=0.05)
    ff, rot = unpack(fit.x)
    return float(np.clip(ff, *F_RANGE)), rot
