"""The place around the hero building: street, kerbs, pavement and neighbouring buildings.

Everything here is static render geometry (it stays standing; the sim does
not see it). The street runs along X in front of the building's front (-Y)
facade; neighbours line both sides of it and the block behind, and a ring of
lower-detail blocks fills the distance so a wide shot reads as a city. Pieces
are kept out of the camera's way and out of the area the collapse sweeps
(`keep_clear`), so nothing falls through a neighbour.

Ids in the part pass (see `Passes.part`): GROUND_ID -2 road and ground,
PAVEMENT_ID -3 pavements and kerbs, NEIGHBOUR_ID0 - k (-4, -5, ...) neighbour k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.geometry import Mesh, box_mesh
from setpiece.render.materials import BASE_ALBEDO, MATERIAL_ID

GROUND_ID = -2
PAVEMENT_ID = -3
NEIGHBOUR_ID0 = -4
STOREY = 3.2
PAVEMENT_WIDTH = 4.0
ROAD_WIDTH = 10.0
KERB = (0.3, 0.12)  # width, height (m)
PAVE_Z = 0.02  # pavement surface, just above the road (the sim's ground is z = 0)
STREET_LENGTH = 240.0
GROUND_SIZE = 4000.0
FACADE_COLORS = (
    (0.42, 0.37, 0.29),  # render, cream
    (0.28, 0.14, 0.09),  # brick
    (0.30, 0.29, 0.27),  # concrete
    (0.44, 0.36, 0.25),  # sandstone
    (0.22, 0.21, 0.20),  # dark render
    (0.31, 0.33, 0.30),  # grey-green render
    (0.36, 0.24, 0.17),  # ochre
)
CORNICE = (0.35, 0.5)  # overhang, height (m)


@dataclass(frozen=True)
class Environment:
    meshes: list[Mesh]  # static, world space; meta: part_id, material, albedo

    @property
    def ids(self) -> set[int]:
        return {m.meta["part_id"] for m in self.meshes}


def make_environment(
    kind: str,
    footprint: tuple[float, float],
    camera,
    rng: np.random.Generator,
    neighbours: bool = True,
    keep_clear: tuple[tuple[float, float], tuple[float, float]] | None = None,
    height: float = 20.0,
) -> Environment:
    """kind: "street" (road, kerbs, pavements, neighbours), "open_lot" (a bare lot of
    asphalt), "none" (the plain ground only)."""
    meshes = [_ground("asphalt" if kind != "none" else "paving", (0.2, 0.19, 0.18) if kind == "none" else None)]
    if kind != "street":
        return Environment(meshes)
    w, d = footprint
    front = -d / 2
    kerb_y = front - PAVEMENT_WIDTH
    far_kerb = kerb_y - KERB[0] - ROAD_WIDTH
    meshes += _street(front, kerb_y, far_kerb)
    if neighbours:
        clear = _clearance(footprint, keep_clear)
        blocks = _neighbour_boxes(footprint, front, far_kerb, clear, camera, rng, height)
        meshes += [_building(lo, hi, NEIGHBOUR_ID0 - k, rng) for k, (lo, hi) in enumerate(blocks)]
    return Environment(meshes)


def _tagged(mesh: Mesh, part_id: int, material: str | np.ndarray, albedo=None) -> Mesh:
    n = len(mesh.faces)
    mats = np.full(n, MATERIAL_ID[material], np.int32) if isinstance(material, str) else material
    color = np.asarray(albedo if albedo is not None else mesh.color, float)
    mesh.color = tuple(color)
    mesh.meta.update(part_id=part_id, material=mats, broken=np.zeros(n, bool), albedo=np.tile(color, (n, 1)))
    return mesh


def _quad(x0, x1, y0, y1, z) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def _ground(material: str, color=None) -> Mesh:
    s = GROUND_SIZE / 2
    v, f = _quad(-s, s, -s, s, 0.0)
    ground = _tagged(Mesh(v, f, color or BASE_ALBEDO[material], "ground"), GROUND_ID, material)
    ground.meta["shadow"] = False  # lies under everything: casts no shadow
    return ground


def _street(front: float, kerb_y: float, far_kerb: float) -> list[Mesh]:
    """Pavements either side of the road (as low slabs), kerbs, and the dashed centre line."""
    half = STREET_LENGTH / 2
    kw, kh = KERB
    near = box_mesh(((0.0), (kerb_y + 60.0) / 2, PAVE_Z / 2), (STREET_LENGTH, 60.0 - kerb_y, PAVE_Z))
    far = box_mesh((0.0, (far_kerb - 40.0) / 2, PAVE_Z / 2), (STREET_LENGTH, 40.0 + far_kerb, PAVE_Z))
    kerb_near = box_mesh((0.0, kerb_y - kw / 2, kh / 2), (STREET_LENGTH, kw, kh))
    kerb_far = box_mesh((0.0, far_kerb + kw / 2, kh / 2), (STREET_LENGTH, kw, kh))
    near = _tagged(near, PAVEMENT_ID, "paving", BASE_ALBEDO["paving"])
    far = _tagged(far, PAVEMENT_ID, "paving", BASE_ALBEDO["paving"])
    near.meta["shadow"] = far.meta["shadow"] = False  # 2 cm slabs: no shadow worth a shadow-map pass
    out = [
        near,
        far,
        _tagged(kerb_near, PAVEMENT_ID, "kerb", BASE_ALBEDO["kerb"]),
        _tagged(kerb_far, PAVEMENT_ID, "kerb", BASE_ALBEDO["kerb"]),
    ]
    mid = (kerb_y - kw + far_kerb + kw) / 2
    verts, faces = [], []
    for x in np.arange(-half, half, 9.0):
        v, f = _quad(x, x + 3.0, mid - 0.06, mid + 0.06, 0.012)
        faces.append(f + len(verts) * 4)
        verts.append(v)
    line = Mesh(np.vstack(verts), np.vstack(faces), BASE_ALBEDO["marking"], "marking")
    line = _tagged(line, GROUND_ID, "marking", BASE_ALBEDO["marking"])
    line.meta["shadow"] = False
    out.append(line)
    return out


def _clearance(footprint, keep_clear) -> tuple[np.ndarray, np.ndarray]:
    """The xy box neighbours stay out of: the building plus what its collapse sweeps, plus an alley."""
    half = np.asarray(footprint, float) / 2
    lo, hi = -half, half
    if keep_clear is not None:
        lo, hi = np.minimum(lo, keep_clear[0]), np.maximum(hi, keep_clear[1])
    return lo - 2.5, hi + 2.5


def _neighbour_boxes(footprint, front, far_kerb, clear, camera, rng, height) -> list[tuple[np.ndarray, np.ndarray]]:
    """Boxes (lo, hi) for the terrace either side, the block behind, across the street and
    a sparse far ring; none in the camera's line of sight to the building or around the camera."""
    half = STREET_LENGTH / 2
    boxes = []
    # the hero's own side of the street: fronts on the building line, gaps left where the collapse goes
    for sign in (-1, 1):
        x = clear[1][0] if sign > 0 else clear[0][0]
        while abs(x) < half:
            width = rng.uniform(8.0, 16.0)
            depth = rng.uniform(10.0, 15.0)
            setback = rng.uniform(0.0, 0.8)
            floors = rng.integers(3, 8)
            x0, x1 = sorted((x, x + sign * width))
            boxes.append(((x0, front + setback, 0.0), (x1, front + setback + depth, floors * STOREY)))
            x += sign * (width + rng.uniform(0.0, 0.4))
    # the block behind: taller, seen over and around the building
    x = -half
    back = max(footprint[1] / 2, clear[1][1]) + 6.0
    while x < half:
        width = rng.uniform(10.0, 20.0)
        boxes.append(((x, back, 0.0), (x + width, back + rng.uniform(12, 18), rng.integers(4, 9) * STOREY)))
        x += width + rng.uniform(0.0, 0.5)
    # across the street
    far_front = far_kerb - PAVEMENT_WIDTH
    x = -half
    while x < half:
        width = rng.uniform(8.0, 16.0)
        depth = rng.uniform(10.0, 14.0)
        boxes.append(((x, far_front - depth, 0.0), (x + width, far_front, rng.integers(3, 8) * STOREY)))
        x += width + rng.uniform(0.0, 0.4)
    # the distance: city blocks on a loose grid out to 600 m
    for gx in np.arange(-600.0, 601.0, 45.0):
        for gy in np.arange(-600.0, 601.0, 45.0):
            if max(abs(gx), abs(gy)) < 150.0:
                continue
            cx, cy = gx + rng.uniform(-8, 8), gy + rng.uniform(-8, 8)
            sx, sy = rng.uniform(16, 32, size=2)
            boxes.append(((cx - sx / 2, cy - sy / 2, 0.0), (cx + sx / 2, cy + sy / 2, rng.uniform(12.0, 45.0))))
    # what the camera must see: the building and the ground its collapse covers, up to its top
    (x0, y0), (x1, y1) = clear
    sights = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (0.0, height)])
    sights = np.vstack([sights, [[0.0, 0.0, height / 2]]])
    out = []
    for lo, hi in boxes:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        if _overlaps(lo, hi, clear) or _blocks_view(lo, hi, camera, sights):
            continue
        out.append((lo, hi))
    return out


def _overlaps(lo, hi, clear) -> bool:
    return bool(np.all(lo[:2] < clear[1]) and np.all(hi[:2] > clear[0]))


def _blocks_view(lo, hi, camera, sights: np.ndarray, margin: float = 2.0) -> bool:
    """True if the box stands around the camera or hides any of the sight points from it."""
    eye = np.asarray(camera.position, float)
    a, b = lo - margin, hi + margin
    if np.all(eye >= a) and np.all(eye <= b):
        return True
    # close to the camera and in the frame: it would be a wall across the foreground
    reach = 0.6 * np.linalg.norm(np.subtract(camera.target, eye))
    if np.linalg.norm(np.clip(eye, lo, hi) - eye) < reach:
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        px = camera.project(corners)
        ahead = px[:, 2] > 0
        inside = ahead & (px[:, 0] > -camera.width) & (px[:, 0] < 2 * camera.width) & (px[:, 1] < 2 * camera.height)
        if inside.any():
            return True
    for target in sights:
        d = target - eye
        t0, t1 = 0.0, 1.0
        for k in range(3):  # slab test of the eye->sight segment against the box
            if abs(d[k]) < 1e-9:
                if not lo[k] <= eye[k] <= hi[k]:
                    t0, t1 = 1.0, 0.0
                    break
                continue
            u, v = (lo[k] - eye[k]) / d[k], (hi[k] - eye[k]) / d[k]
            t0, t1 = max(t0, min(u, v)), min(t1, max(u, v))
        if t0 <= t1:
            return True
    return False


def _building(lo, hi, part_id: int, rng) -> Mesh:
    """A neighbour: a box with a window-grid facade, a cornice and a roof, in one of a few colours."""
    size = hi - lo
    body = box_mesh((lo + hi) / 2, size)
    o, t = CORNICE
    top = box_mesh(((lo + hi) / 2)[:2].tolist() + [hi[2] - t / 2], [size[0] + 2 * o, size[1] + 2 * o, t])
    mesh = Mesh(np.vstack([body.vertices, top.vertices]), np.vstack([body.faces, top.faces + 8]), name=f"nb_{-part_id}")
    tri = mesh.vertices[mesh.faces]
    normal_z = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]
    is_roof = normal_z > 1e-6
    cornice = np.arange(len(mesh.faces)) >= len(body.faces)
    mats = np.where(is_roof, MATERIAL_ID["roof"], MATERIAL_ID["facade"]).astype(np.int32)
    mats[cornice & ~is_roof] = MATERIAL_ID["concrete"]
    color = np.asarray(FACADE_COLORS[rng.integers(len(FACADE_COLORS))]) * rng.uniform(0.85, 1.1)
    mesh = _tagged(mesh, part_id, mats, color)
    mesh.meta["albedo"][is_roof] = BASE_ALBEDO["roof"]
    mesh.meta["variant"] = float(np.random.default_rng(-part_id).uniform(0.0, 0.999))  # its own window grid
    mesh.meta["albedo"][cornice & ~is_roof] = np.minimum(color * 1.25, 0.6)
    return mesh
