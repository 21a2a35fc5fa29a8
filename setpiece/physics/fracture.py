"""Fracture stage: Voronoi cells cut exactly from each building element.

Each element (a box) receives seeds in proportion to its volume; each cell is
the intersection of the box with the half-spaces nearer its seed than any
other (scipy HalfspaceIntersection), so fragment volumes sum to the building
volume. Fragments that touch share a face; the glued contact area of each
pair forms the connectivity graph, and neighbouring fragments of the same
storey are grouped into clusters that the sim treats as single bodies.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection, cKDTree

from setpiece.artifacts import Fragments
from setpiece.errors import SpecError
from setpiece.world.building import Building, Element

PLANE_EPS = 1e-6
CONTACT_EPS = 1e-4


def fracture(building: Building, count: int, cluster_size: int, rng: np.random.Generator) -> Fragments:
    if count < len(building.elements):
        raise SpecError(
            f"fracture.fragments = {count} is fewer than the building's "
            f"{len(building.elements)} structural elements; raise it or use fewer floors/bays"
        )
    shares = _allocate(np.array([e.volume for e in building.elements]), count)
    cells: list[tuple[np.ndarray, int]] = []
    for idx, (element, n) in enumerate(zip(building.elements, shares)):
        cells += [(pts, idx) for pts in _voronoi_box(element, n, rng)]
    hulls = [ConvexHull(pts) for pts, _ in cells]
    frags = Fragments(
        vertices=[h.points[h.vertices] for h in hulls],
        faces=[_outward_faces(h) for h in hulls],
        centroids=np.array([_hull_centroid(h) for h in hulls]),
        volumes=np.array([h.volume for h in hulls]),
        element=np.array([idx for _, idx in cells]),
        bonds=np.zeros((0, 2), int),
        bond_area=np.zeros(0),
        cluster=np.zeros(len(hulls), int),
    )
    frags.bonds, frags.bond_area = _contacts(hulls)
    frags.cluster = _cluster(frags, building.elements, cluster_size, rng)
    return frags


def _allocate(volumes: np.ndarray, count: int) -> np.ndarray:
    """At least one seed per element, the rest in proportion to volume."""
    extra = (volumes / volumes.sum()) * (count - len(volumes))
    shares = 1 + np.floor(extra).astype(int)
    remainder = count - shares.sum()
    shares[np.argsort(-(extra - np.floor(extra)))[:remainder]] += 1
    return shares


def _voronoi_box(e: Element, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    lo, hi = np.asarray(e.lo), np.asarray(e.hi)
    box = _box_halfspaces(lo, hi)
    if n == 1:
        return [_corners(lo, hi)]
    # keep seeds off the faces so every cell has a safe interior point
    seeds = lo + (hi - lo) * rng.uniform(0.05, 0.95, size=(n, 3))
    cells = []
    for i, s in enumerate(seeds):
        others = np.delete(seeds, i, axis=0)
        normals = others - s
        offsets = -(normals * (others + s) / 2).sum(axis=1)
        halfspaces = np.vstack([box, np.c_[normals, offsets]])
        cells.append(HalfspaceIntersection(halfspaces, s).intersections)
    return cells


def _box_halfspaces(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Rows [n, d] with n.x + d <= 0 inside the box."""
    eye = np.eye(3)
    return np.vstack([np.c_[-eye, lo], np.c_[eye, -hi]])


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _outward_faces(hull: ConvexHull) -> np.ndarray:
    """Hull triangles re-indexed into hull.vertices, wound counter-clockwise from outside."""
    remap = {v: i for i, v in enumerate(hull.vertices)}
    faces = np.vectorize(remap.get)(hull.simplices)
    pts = hull.points
    for k, (a, b, c) in enumerate(hull.simplices):
        if np.cross(pts[b] - pts[a], pts[c] - pts[a]) @ hull.equations[k, :3] < 0:
            faces[k] = faces[k, ::-1]
    return faces.astype(np.int32)


def _hull_centroid(hull: ConvexHull) -> np.ndarray:
    """Volume centroid from the tetrahedra fanned from an interior point."""
    pts = hull.points
    origin = pts[hull.vertices].mean(axis=0)
    tet = pts[hull.simplices]
    vols = np.abs(np.einsum("ij,ij->i", tet[:, 0] - origin, np.cross(tet[:, 1] - origin, tet[:, 2] - origin))) / 6
    centres = (tet.sum(axis=1) + origin) / 4
    return (centres * vols[:, None]).sum(axis=0) / vols.sum()


def _contacts(hulls: list[ConvexHull]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of fragments sharing a face, with the area of the shared patch."""
    lo = np.array([h.min_bound for h in hulls])
    hi = np.array([h.max_bound for h in hulls])
    centres, radii = (lo + hi) / 2, np.linalg.norm(hi - lo, axis=1) / 2
    tree = cKDTree(centres)
    faces = [_planar_faces(h) for h in hulls]
    pairs, areas = [], []
    for i, j in sorted(tree.query_pairs(2 * radii.max() + CONTACT_EPS)):
        if np.any(lo[i] > hi[j] + CONTACT_EPS) or np.any(lo[j] > hi[i] + CONTACT_EPS):
            continue
        area = _shared_area(faces[i], faces[j])
        if area > 1e-4:
            pairs.append((i, j))
            areas.append(area)
    return np.array(pairs, int).reshape(-1, 2), np.array(areas)


def _planar_faces(hull: ConvexHull) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Merge coplanar hull triangles into polygons: (normal, offset, ordered vertices)."""
    out, seen = [], np.zeros(len(hull.equations), bool)
    for k, eq in enumerate(hull.equations):
        if seen[k]:
            continue
        same = np.all(np.abs(hull.equations - eq) < PLANE_EPS * 10, axis=1)
        seen |= same
        idx = np.unique(hull.simplices[same])
        out.append((eq[:3], eq[3], _order_polygon(hull.points[idx], eq[:3])))
    return out


def _order_polygon(pts: np.ndarray, normal: np.ndarray) -> np.ndarray:
    u, v = _plane_axes(normal)
    rel = pts - pts.mean(axis=0)
    return pts[np.argsort(np.arctan2(rel @ v, rel @ u))]


def _plane_axes(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0, 0]) if abs(normal[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(normal, u)


def _shared_area(fa, fb) -> float:
    total = 0.0
    for na, da, pa in fa:
        for nb, db, pb in fb:
            if na @ nb < -0.9999 and abs(da + db) < CONTACT_EPS:
                u, v = _plane_axes(na)
                total += _polygon_area(_clip(pa @ np.c_[u, v], pb @ np.c_[u, v]))
    return total


def _clip(subject: np.ndarray, clipper: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of one convex polygon by another (2D)."""
    if _signed_area(clipper) < 0:
        clipper = clipper[::-1]
    out = subject
    for a, b in zip(clipper, np.roll(clipper, -1, axis=0)):
        if len(out) == 0:
            break
        edge = b - a
        inside = edge[0] * (out[:, 1] - a[1]) - edge[1] * (out[:, 0] - a[0]) >= -1e-12
        nxt = []
        for k in range(len(out)):
            p, q = out[k], out[(k + 1) % len(out)]
            if inside[k]:
                nxt.append(p)
            if inside[k] != inside[(k + 1) % len(out)]:
                dp, dq = _cross2(edge, p - a), _cross2(edge, q - a)
                nxt.append(p + (q - p) * dp / (dp - dq))
        out = np.array(nxt).reshape(-1, 2)
    return out


def _cross2(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _polygon_area(poly: np.ndarray) -> float:
    return abs(_signed_area(poly)) if len(poly) >= 3 else 0.0


def _cluster(frags: Fragments, elements: tuple[Element, ...], size: int, rng: np.random.Generator) -> np.ndarray:
    """Grow connected clusters of about `size` fragments that never mix storeys,
    nor a storey's supports with its slab, so a trigger can take out supports alone."""
    group = np.array([elements[e].floor * 2 + elements[e].is_support for e in frags.element])
    neighbours: list[list[int]] = [[] for _ in range(len(frags))]
    for i, j in frags.bonds:
        if group[i] == group[j]:
            neighbours[i].append(j)
            neighbours[j].append(i)
    label = np.full(len(frags), -1)
    order = rng.permutation(len(frags))
    next_label = 0
    for start in order:
        if label[start] >= 0:
            continue
        frontier, members = [start], 0
        label[start] = next_label
        while frontier and members < size:
            node = frontier.pop(0)
            members += 1
            for nb in sorted(neighbours[node], key=lambda k: frags.volumes[k], reverse=True):
                if label[nb] < 0 and members + len(frontier) < size:
                    label[nb] = next_label
                    frontier.append(nb)
        next_label += 1
    return label
