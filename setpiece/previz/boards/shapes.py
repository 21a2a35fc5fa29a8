"""Primitive meshes for blocking: hulls, spheres, limbs, boxes, chunks, and
the helpers that merge, move, tint and seed them.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation

from setpiece.geometry import Mesh, box_mesh


def hull(points, color, name="hull") -> Mesh:
    """Convex hull of points, faces wound outwards."""
    pts = np.asarray(points, float)
    faces = ConvexHull(pts).simplices.copy()
    centre = pts.mean(axis=0)
    tri = pts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", n, tri[:, 0] - centre) < 0
    faces[flip] = faces[flip][:, ::-1]
    return Mesh(pts, faces, color, name)


def ring(centre, rx, ry, z, n=8, phase=0.0) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False) + phase
    return np.c_[centre[0] + rx * np.cos(a), centre[1] + ry * np.sin(a), np.full(n, z)]


def sphere_points(n=26) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    r = np.sqrt(1 - z * z)
    a = k * math.pi * (3 - math.sqrt(5))
    return np.c_[r * np.cos(a), r * np.sin(a), z]


UNIT_SPHERE = sphere_points(26)
UNIT_SPHERE_FINE = sphere_points(48)


def sphere(centre, radius, color, fine=False, squash=1.0) -> Mesh:
    unit = UNIT_SPHERE_FINE if fine else UNIT_SPHERE
    return hull(np.asarray(centre) + unit * np.array([radius, radius, radius * squash]), color)


def limb(p0, p1, r0, r1, color, n=7) -> Mesh:
    """Tapered cylinder between two points (a convex hull of two rings)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    axis /= np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.cos(a)[:, None] * u + np.sin(a)[:, None] * v
    return hull(np.vstack([p0 + r0 * ring, p1 + r1 * ring]), color)


def box(lo, hi, color) -> Mesh:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return box_mesh((lo + hi) / 2, hi - lo, color)


def merge(meshes: list[Mesh], name: str) -> Mesh:
    """One mesh with per-face colours (the renderer reads (F, 3) colour arrays)."""
    verts, faces, colors, offset = [], [], [], 0
    for m in meshes:
        verts.append(m.vertices)
        faces.append(m.faces + offset)
        offset += len(m.vertices)
        c = np.asarray(m.color, float)
        colors.append(np.broadcast_to(c, (len(m.faces), 3)) if c.ndim == 1 else c)
    return Mesh(np.vstack(verts), np.vstack(faces).astype(np.int64), np.vstack(colors), name)


def moved(mesh: Mesh, matrix: np.ndarray) -> Mesh:
    v = mesh.vertices @ matrix[:3, :3].T + matrix[:3, 3]
    return Mesh(v, mesh.faces, mesh.color, mesh.name)


def yaw_matrix(yaw: float, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = origin
    return m


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3x3 rotation from a normalised Gaussian quaternion."""
    w, x, y, z = rng.normal(size=4)
    return Rotation.from_quat([x, y, z, w]).as_matrix()  # scipy: scalar last; it normalises


def chunk(rng, centre, size, color) -> Mesh:
    """A randomly turned box (rubble, debris)."""
    m = box_mesh((0, 0, 0), size, color)
    rot = random_rotation(rng)
    return Mesh(m.vertices @ rot.T + np.asarray(centre), m.faces, color)


def tint(color, rng, spread=0.08) -> tuple:
    return tuple(np.clip(np.asarray(color) * rng.uniform(1 - spread, 1 + spread), 0, 1))


def stable_seed(*texts: str) -> int:
    return zlib.crc32("\x1f".join(texts).encode("utf-8"))
