"""Fracture stage: each structural member cut into convex pieces by its material.

- concrete (slabs, columns, beams, concrete walls): Voronoi cells, seeds placed
  more densely near the trigger and at the ground where the falling mass lands
  (the way Houdini's RBD Material Fracture and Chaos clusters refine where
  damage happens);
- brick and sandstone walls: blocks in running bond (courses offset by half a
  block), each block a few bricks in size;
- glass panes: shards radiating from a break point in the pane.

Each Voronoi cell is the member's box cut by the bisector half-spaces of its
nearest seeds (scipy HalfspaceIntersection), so piece volumes sum to the
member's. Pieces that touch share a face: the glued area of every pair forms
the bond graph; the sim makes bonds between members (joints) weaker than bonds
inside them. Clusters group neighbouring pieces of one member: the sim breaks
a member into clusters before it breaks clusters into pieces.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, Delaunay, HalfspaceIntersection, cKDTree

from setpiece.artifacts import Fragments
from setpiece.errors import SpecError
from setpiece.world.building import Building, Element

PLANE_EPS = 1e-6
CONTACT_EPS = 1e-4
GLASS_WEIGHT = 5.0  # a pane draws seeds as if it were this many times thicker
FOCUS = 3.0  # seed density multiplier at the trigger and at the foot of the building
FOCUS_RADIUS = 0.35  # of the building's height


def fracture(
    building: Building,
    count: int,
    cluster_size: int,
    rng: np.random.Generator,
    focus: np.ndarray | None = None,
) -> Fragments:
    """About `count` pieces over the building; `focus` points (world) get finer pieces."""
    if count < len(building.elements):
        raise SpecError(
            f"fracture.fragments = {count} is fewer than the building's "
            f"{len(building.elements)} structural elements; raise it or use fewer floors/bays"
        )
    focus = _focus_points(building) if focus is None else np.asarray(focus, float).reshape(-1, 3)
    density = _seed_density(building, focus)
    shares = _allocate(density, count)
    cells: list[tuple[np.ndarray, int]] = []
    for idx, (element, n) in enumerate(zip(building.elements, shares)):
        cells += [(pts, idx) for pts in _cut(element, int(n), focus, building.height, rng)]
    hulls = [ConvexHull(pts) for pts, _ in cells]
    element = np.array([idx for _, idx in cells])
    bonds, areas = _contacts(hulls)
    frags = Fragments(
        vertices=[h.points[h.vertices] for h in hulls],
        faces=[_outward_faces(h) for h in hulls],
        centroids=np.array([_hull_centroid(h) for h in hulls]),
        volumes=np.array([h.volume for h in hulls]),
        element=element,
        bonds=bonds,
        bond_area=areas,
        cluster=np.zeros(len(hulls), int),
    )
    frags.cluster = _cluster(frags, cluster_size, rng)
    return frags


def trigger_focus(building: Building, floors, side: str, storey_height: float) -> np.ndarray:
    """Points where a trigger on `floors` of `side` does its damage (finer pieces there)."""
    w, d = building.footprint
    x, y = {"left": (-w / 3, 0.0), "right": (w / 3, 0.0), "front": (0.0, -d / 3), "back": (0.0, d / 3)}.get(
        side, (0.0, 0.0)
    )
    return np.array([[x, y, (f + 0.5) * storey_height] for f in floors], float).reshape(-1, 3)


def _focus_points(building: Building) -> np.ndarray:
    return np.array([[0.0, 0.0, 0.0]])


def _seed_density(building: Building, focus: np.ndarray) -> np.ndarray:
    """Seeds each member draws: its volume (a pane as a thicker slab), weighted up near the
    focus points and near the ground, where the falling mass lands."""
    weights = []
    ground = np.array([[0.0, 0.0, 0.0]])
    radius = FOCUS_RADIUS * building.height
    for e in building.elements:
        vol = e.volume * (GLASS_WEIGHT / 0.02 * min(np.subtract(e.hi, e.lo)) if e.material == "glass" else 1.0)
        near = np.vstack([focus, ground])
        dist = np.linalg.norm((near - e.center) * [0.5, 0.5, 1.0], axis=1).min()
        weights.append(vol * (1.0 + (FOCUS - 1.0) * np.exp(-((dist / radius) ** 2))))
    return np.array(weights)


def _allocate(weights: np.ndarray, count: int) -> np.ndarray:
    """At least one seed per element, the rest in proportion to weight."""
    extra = (weights / weights.sum()) * (count - len(weights))
    shares = 1 + np.floor(extra).astype(int)
    remainder = count - shares.sum()
    shares[np.argsort(-(extra - np.floor(extra)), kind="stable")[:remainder]] += 1
    return shares


def _cut(e: Element, n: int, focus: np.ndarray, height: float, rng: np.random.Generator) -> list[np.ndarray]:
    lo, hi = np.asarray(e.lo), np.asarray(e.hi)
    if n == 1:
        return [_corners(lo, hi)]
    if e.material in ("brick", "sandstone"):
        return _blocks(lo, hi, n, rng)
    if e.material == "glass":
        return _voronoi(lo, hi, _shard_seeds(lo, hi, n, rng), rng)
    return _voronoi(lo, hi, _concrete_seeds(lo, hi, n, focus, height, rng), rng)


def _concrete_seeds(lo, hi, n, focus, height, rng) -> np.ndarray:
    """Seeds kept off the faces (every cell has a safe interior point), denser near the focus
    (uniform where there is no focus, e.g. a trigger that cuts no floors)."""
    cand = lo + (hi - lo) * rng.uniform(0.05, 0.95, size=(4 * n, 3))
    if len(focus) == 0:
        return cand[np.sort(rng.choice(len(cand), size=n, replace=False))]
    dist = np.linalg.norm(cand[:, None, :] - focus[None], axis=2).min(axis=1)
    weight = 1.0 + (FOCUS - 1.0) * np.exp(-((dist / (FOCUS_RADIUS * height * 0.6)) ** 2))
    pick = rng.choice(len(cand), size=n, replace=False, p=weight / weight.sum())
    return cand[np.sort(pick)]


def _shard_seeds(lo, hi, n, rng) -> np.ndarray:
    """Glass breaks radially: seeds crowd around one break point in the pane."""
    centre = lo + (hi - lo) * rng.uniform(0.3, 0.7, 3)
    spread = (hi - lo) * rng.uniform(0.05, 0.6, size=(n, 1)) ** 1.5
    pts = centre + spread * rng.normal(size=(n, 3))
    return np.clip(pts, lo + 0.05 * (hi - lo), lo + 0.95 * (hi - lo))


def _voronoi(lo, hi, seeds: np.ndarray, rng) -> list[np.ndarray]:
    seeds = seeds + rng.uniform(-1e-6, 1e-6, seeds.shape) * (hi - lo)  # no two seeds coincide
    box = _box_halfspaces(lo, hi)
    if len(seeds) > 4:  # Voronoi neighbours are exactly the Delaunay neighbours
        indptr, indices = Delaunay(seeds).vertex_neighbor_vertices
        near = [indices[indptr[i] : indptr[i + 1]] for i in range(len(seeds))]
    else:
        near = [np.delete(np.arange(len(seeds)), i) for i in range(len(seeds))]
    cells = []
    for i, s in enumerate(seeds):
        others = seeds[near[i]]
        normals = others - s
        offsets = -(normals * (others + s) / 2).sum(axis=1)
        halfspaces = np.vstack([box, np.c_[normals, offsets]])
        cells.append(HalfspaceIntersection(halfspaces, s).intersections)
    return cells


def _blocks(lo, hi, n, rng) -> list[np.ndarray]:
    """Running bond: courses of blocks twice as long as high, every other course offset by half a block."""
    size = hi - lo
    along = 0 if size[0] >= size[1] else 1
    length, height = size[along], size[2]
    h = max(np.sqrt(length * height / (2 * n)), 0.05)
    courses = max(1, round(height / h))
    per_course = max(1, round(length / (2 * h)))
    block = length / per_course
    out = []
    for c in range(courses):
        z0, z1 = lo[2] + height * c / courses, lo[2] + height * (c + 1) / courses
        shift = block / 2 if c % 2 and per_course > 1 else 0.0
        cuts = np.unique(np.clip(np.arange(per_course + 2) * block - shift, 0, length))
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b - a < 1e-6:
                continue
            blo, bhi = lo.copy(), hi.copy()
            blo[along], bhi[along] = lo[along] + a, lo[along] + b
            blo[2], bhi[2] = z0, z1
            out.append(_corners(blo, bhi))
    return out


def _box_halfspaces(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Rows [n, d] with n.x + d <= 0 inside the box."""
    eye = np.eye(3)
    return np.vstack([np.c_[-eye, lo], np.c_[eye, -hi]])


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _outward_faces(hull: ConvexHull) -> np.ndarray:
    """Hull triangles re-indexed into hull.vertices, wound counter-clockwise from outside."""
    remap = np.full(len(hull.points), -1)
    remap[hull.vertices] = np.arange(len(hull.vertices))
    faces = remap[hull.simplices]
    pts = hull.points[hull.simplices]
    normal = np.cross(pts[:, 1] - pts[:, 0], pts[:, 2] - pts[:, 0])
    flip = np.einsum("ij,ij->i", normal, hull.equations[:, :3]) < 0
    faces[flip] = faces[flip, ::-1]
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
    """Pairs of pieces sharing a face, with the area of the shared patch."""
    lo = np.array([h.min_bound for h in hulls])
    hi = np.array([h.max_bound for h in hulls])
    centres, radii = (lo + hi) / 2, np.linalg.norm(hi - lo, axis=1) / 2
    pairs = cKDTree(centres).query_pairs(2 * radii.max() + CONTACT_EPS, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros((0, 2), int), np.zeros(0)
    i, j = pairs[:, 0], pairs[:, 1]
    near = np.linalg.norm(centres[i] - centres[j], axis=1) <= radii[i] + radii[j] + CONTACT_EPS
    overlap = np.all((lo[i] <= hi[j] + CONTACT_EPS) & (lo[j] <= hi[i] + CONTACT_EPS), axis=1)
    pairs = pairs[near & overlap]
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    faces = [_planar_faces(h) for h in hulls]
    out, areas = [], []
    for a, b in pairs:
        area = _shared_area(faces[a], faces[b])
        if area > 1e-4:
            out.append((a, b))
            areas.append(area)
    return np.array(out, int).reshape(-1, 2), np.array(areas)


def _planar_faces(hull: ConvexHull):
    """Coplanar hull triangles merged: (normals (F, 3), offsets (F,), areas (F,), polygons)."""
    eq = hull.equations
    key = np.round(eq / (PLANE_EPS * 100)).astype(np.int64)
    _, first, group = np.unique(key, axis=0, return_index=True, return_inverse=True)
    tri = hull.points[hull.simplices]
    tri_area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    areas = np.bincount(group.ravel(), tri_area, minlength=len(first))
    polys = []
    for g in range(len(first)):
        idx = np.unique(hull.simplices[group.ravel() == g])
        polys.append(_order_polygon(hull.points[idx], eq[first[g], :3]))
    return eq[first, :3], eq[first, 3], areas, polys


def _order_polygon(pts: np.ndarray, normal: np.ndarray) -> np.ndarray:
    u, v = _plane_axes(normal)
    rel = pts - pts.mean(axis=0)
    return pts[np.argsort(np.arctan2(rel @ v, rel @ u))]


def _plane_axes(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nx, ny, nz = (float(c) for c in normal)
    # u = normal x helper, helper the x axis unless the normal is close to it
    u = (0.0, nz, -ny) if abs(nx) < 0.9 else (-nz, 0.0, nx)
    norm = (u[0] ** 2 + u[1] ** 2 + u[2] ** 2) ** 0.5
    u = (u[0] / norm, u[1] / norm, u[2] / norm)
    v = (ny * u[2] - nz * u[1], nz * u[0] - nx * u[2], nx * u[1] - ny * u[0])
    return np.array(u), np.array(v)


def _shared_area(fa, fb) -> float:
    """Area of the patch where two pieces' faces meet (identical faces need no clipping)."""
    na, da, aa, pa = fa
    nb, db, ab, pb = fb
    facing = (na @ nb.T < -0.9999) & (np.abs(da[:, None] + db[None, :]) < CONTACT_EPS)
    total = 0.0
    for k, m in zip(*np.nonzero(facing)):
        if abs(aa[k] - ab[m]) < 1e-7 * max(aa[k], 1.0) and len(pa[k]) == len(pb[m]):
            total += min(aa[k], ab[m])
            continue
        u, v = _plane_axes(na[k])
        uv = np.c_[u, v]
        total += _polygon_area(_clip((pa[k] @ uv).tolist(), (pb[m] @ uv).tolist()))
    return total


def _clip(subject: list, clipper: list) -> list:
    """Sutherland-Hodgman clip of one convex polygon by another (2D, lists of (x, y))."""
    if _signed_area(clipper) < 0:
        clipper = clipper[::-1]
    out = subject
    for k in range(len(clipper)):
        if not out:
            break
        ax, ay = clipper[k]
        bx, by = clipper[(k + 1) % len(clipper)]
        ex, ey = bx - ax, by - ay
        side = [ex * (p[1] - ay) - ey * (p[0] - ax) for p in out]
        nxt = []
        for m in range(len(out)):
            p, q = out[m], out[(m + 1) % len(out)]
            sp, sq = side[m], side[(m + 1) % len(out)]
            if sp >= -1e-12:
                nxt.append(p)
            if (sp >= -1e-12) != (sq >= -1e-12):
                t = sp / (sp - sq)
                nxt.append((p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t))
        out = nxt
    return out


def _signed_area(poly) -> float:
    n = len(poly)
    return 0.5 * sum(poly[k][0] * poly[(k + 1) % n][1] - poly[(k + 1) % n][0] * poly[k][1] for k in range(n))


def _polygon_area(poly) -> float:
    return abs(_signed_area(poly)) if len(poly) >= 3 else 0.0


def _cluster(frags: Fragments, size: int, rng: np.random.Generator) -> np.ndarray:
    """Grow connected clusters of about `size` pieces inside one member each."""
    neighbours: list[list[int]] = [[] for _ in range(len(frags))]
    for i, j in frags.bonds:
        if frags.element[i] == frags.element[j]:
            neighbours[i].append(j)
            neighbours[j].append(i)
    label = np.full(len(frags), -1)
    next_label = 0
    for start in rng.permutation(len(frags)):
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
