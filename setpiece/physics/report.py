"""The physics report of a take (report.json): how the collapse measured up.

Computed from the sim's Motion and the pieces alone, so it checks the
solver's output rather than its bookkeeping:
- building_height_m H, free_fall_s = sqrt(2H/g);
- collapse_time_s: from the trigger to the first frame where the highest piece
  is below 30% of H and the mean speed of the pieces is under 0.5 m/s (None
  if that never happens);
- pile_height_m: 95th percentile of the pieces' top z at the last frame;
- largest_intact_share: mass share of the largest glued island at the last
  frame (bonded pieces that still move as one);
- debris_radius_m: 95th percentile of the pieces' horizontal distance from
  the footprint centre at the last frame;
- max_speed_mps: fastest piece over the shot; pieces: rigid pieces.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from setpiece.artifacts import Fragments, Motion, quat_to_matrix
from setpiece.world.building import Building

GRAVITY = 9.81
REST_SPEED = 0.5  # m/s mean speed under which the collapse is over
LOW = 0.3  # share of the height under which the highest piece must be
SAME_POSE = 1e-4  # m: bonded pieces this close to one rigid transform count as one island


def piece_centres(frags: Fragments, motion: Motion) -> np.ndarray:
    """(frames, N, 3) world centroids of every piece."""
    rot = quat_to_matrix(motion.rotations.reshape(-1, 4).astype(float)).reshape(motion.frames, -1, 3, 3)
    return np.einsum("fnij,nj->fni", rot, frags.centroids) + motion.translations


def piece_tops(frags: Fragments, motion: Motion) -> np.ndarray:
    """(frames, N) highest vertex z of every piece."""
    most = max(len(v) for v in frags.vertices)
    verts = np.array([np.vstack([v, np.repeat(v[:1], most - len(v), axis=0)]) for v in frags.vertices])
    q = motion.rotations.astype(float)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    row = np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)  # R[2, :]
    return np.einsum("fnk,nvk->fnv", row, verts).max(axis=2) + motion.translations[..., 2]


def physics_report(building: Building, frags: Fragments, motion: Motion, trigger_time: float) -> dict:
    height = building.height
    centres = piece_centres(frags, motion)
    vis = motion.visible
    top = np.where(vis, piece_tops(frags, motion), -np.inf)
    speed = np.linalg.norm(np.diff(centres, axis=0), axis=-1) * motion.fps
    both = vis[1:] & vis[:-1]
    speed = np.where(both, speed, 0.0)
    mean_speed = speed.sum(axis=1) / np.maximum(both.sum(axis=1), 1)
    trigger_frame = math.ceil(trigger_time * motion.fps)
    collapse = None
    for frame in range(max(trigger_frame, 1), motion.frames):
        if top[frame].max() < LOW * height and mean_speed[frame - 1] < REST_SPEED:
            collapse = (frame - trigger_frame) / motion.fps
            break
    last = vis[-1]
    masses = frags.volumes * building.densities()[frags.element]
    return {
        "building_height_m": round(float(height), 3),
        "free_fall_s": round(math.sqrt(2 * height / GRAVITY), 3),
        "collapse_time_s": None if collapse is None else round(collapse, 3),
        "pile_height_m": round(float(np.percentile(top[-1][last], 95)), 3) if last.any() else 0.0,
        "largest_intact_share": round(largest_island(frags, motion, masses), 4),
        "debris_radius_m": round(float(np.percentile(np.linalg.norm(centres[-1][last, :2], axis=1), 95)), 3)
        if last.any()
        else 0.0,
        "max_speed_mps": round(float(speed.max()), 3) if len(speed) else 0.0,
        "pieces": len(frags),
    }


def largest_island(frags: Fragments, motion: Motion, masses: np.ndarray) -> float:
    """Mass share of the largest group of bonded pieces that end on one rigid transform."""
    m = motion.matrices(motion.frames - 1)
    i, j = frags.bonds[:, 0], frags.bonds[:, 1]
    mid = (frags.centroids[i] + frags.centroids[j]) / 2
    pi = np.einsum("nij,nj->ni", m[i, :3, :3], mid) + m[i, :3, 3]
    pj = np.einsum("nij,nj->ni", m[j, :3, :3], mid) + m[j, :3, 3]
    same = (np.linalg.norm(pi - pj, axis=1) < SAME_POSE) & motion.visible[-1][i] & motion.visible[-1][j]
    n = len(frags)
    graph = coo_matrix((np.ones(same.sum()), (i[same], j[same])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    share = np.bincount(labels, masses * motion.visible[-1])
    return float(share.max() / masses.sum())


def format_report(report: dict) -> str:
    """One line per figure, for the CLI."""
    return "\n".join(f"  {k:<22} {'-' if v is None else v}" for k, v in report.items())
