"""Surface materials both backends share: which material each face gets, and its texture.

A face's material follows from the structural member it belongs to and where
it sits on that member (`KIND_SURFACES`: member kind -> surface role ->
material), so a new member kind (beams, walls, glass panes) is one entry.
A *fresh broken face* is a face of a fragment that was not on its element's
original surface: found geometrically (its plane is not one of the element
box's faces), so it works for any fracture. Broken faces keep the member's
core material but are drawn lighter and rougher, without weathering.

Textures are procedural GLSL (`GLSL`, evaluated in the rasteriser in the
parts' rest space, so they stick to the pieces as they fall and hold up at any
resolution). The final backend path-traces with each material's base albedo
and multiplies in the rasteriser's texture detail (textured / base albedo),
so both backends show the same textures.
"""

from __future__ import annotations

import numpy as np

from setpiece.geometry import Mesh

# material name -> id used in the shaders (order matters: GLSL below uses these numbers)
MATERIALS = (
    "concrete",
    "brick",
    "sandstone",
    "plaster",
    "floor",
    "glass",
    "asphalt",
    "paving",
    "kerb",
    "facade",  # neighbouring buildings: rendered wall with a window grid
    "roof",
    "marking",
)
MATERIAL_ID = {name: i for i, name in enumerate(MATERIALS)}
GLASS = MATERIAL_ID["glass"]

# base (mean) albedo, linear RGB: what the path tracer bounces light with
BASE_ALBEDO = {
    "concrete": (0.42, 0.40, 0.37),
    "brick": (0.40, 0.20, 0.13),
    "sandstone": (0.58, 0.48, 0.34),
    "plaster": (0.62, 0.60, 0.56),
    "floor": (0.30, 0.26, 0.22),
    "glass": (0.05, 0.06, 0.06),
    "asphalt": (0.075, 0.075, 0.075),
    "paving": (0.33, 0.32, 0.30),
    "kerb": (0.40, 0.40, 0.39),
    "facade": (0.45, 0.42, 0.38),
    "roof": (0.16, 0.15, 0.14),
    "marking": (0.65, 0.65, 0.62),
}

FACADE = "<facade>"  # stands for the building's own material (concrete, brick, sandstone)
# member kind -> surface role -> material; roles: outer (on the building's outside),
# inner (the room side of a wall), top, bottom, side (reveals, column faces), core (broken faces)
_WALL = {"outer": FACADE, "inner": "plaster", "side": FACADE, "top": FACADE, "bottom": FACADE, "core": FACADE}
KIND_SURFACES: dict[str, dict[str, str]] = {
    "slab": {"outer": FACADE, "top": "floor", "bottom": "plaster", "side": "concrete", "core": "concrete"},
    "column": {"outer": FACADE, "side": "plaster", "top": "concrete", "bottom": "concrete", "core": "concrete"},
    "beam": {"outer": FACADE, "side": "plaster", "top": "concrete", "bottom": "plaster", "core": "concrete"},
    "pier": _WALL,
    "band": _WALL,
    "wall": _WALL,
    "glass": {role: "glass" for role in ("outer", "inner", "side", "top", "bottom", "core")},
}
DEFAULT_SURFACES = {"outer": FACADE, "side": "concrete", "top": "concrete", "bottom": "concrete", "core": "concrete"}

NOISE_SIZE = 32  # lattice cells of the tiling noise volume the shaders sample
SURFACE_TOL = 2e-3  # m: a face this close to an element's box plane is on its original surface


def face_roles(
    vertices: np.ndarray, faces: np.ndarray, lo, hi, footprint, is_wall: bool
) -> tuple[list[str], np.ndarray]:
    """Each face's surface role on its element box, and whether it is a fresh broken face."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    c = tri.mean(axis=1)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    axis = np.argmax(np.abs(n), axis=1)
    aligned = np.abs(n[np.arange(len(n)), axis]) > 0.999
    coord = c[np.arange(len(c)), axis]
    on_lo = np.abs(coord - lo[axis]) < SURFACE_TOL
    on_hi = np.abs(coord - hi[axis]) < SURFACE_TOL
    sign = np.sign(n[np.arange(len(n)), axis])
    on_surface = aligned & (((sign < 0) & on_lo) | ((sign > 0) & on_hi))
    half = np.asarray(footprint, float) / 2
    roles = []
    for k in range(len(faces)):
        a = axis[k]
        if not on_surface[k]:
            roles.append("core")
        elif a == 2:
            roles.append("top" if sign[k] > 0 else "bottom")
        elif abs(abs(coord[k]) - half[a]) < 0.02 and sign[k] * coord[k] > 0:
            roles.append("outer")
        elif is_wall and (hi[a] - lo[a]) < 0.5 * max(np.delete(hi - lo, a)[0], 1e-6):
            roles.append("inner")  # the broad face of a thin wall that is not outside
        else:
            roles.append("side")
    return roles, ~on_surface


def assign_materials(building, frags, rng: np.random.Generator) -> list[Mesh]:
    """Fragments as meshes carrying per-face material ids, broken flags and base colours
    (tinted per structural element so the facade is not uniform)."""
    facade = facade_material(building)
    tint = rng.uniform(0.92, 1.06, size=len(building.elements))
    meshes = []
    for i, (v, f, e) in enumerate(zip(frags.vertices, frags.faces, frags.element)):
        el = building.elements[e]
        surfaces = KIND_SURFACES.get(el.kind, DEFAULT_SURFACES)
        if getattr(el, "material", None) == "glass":
            surfaces = KIND_SURFACES["glass"]  # a member of glass is glass whatever its kind
        is_wall = el.kind in ("pier", "band", "wall")
        roles, broken = face_roles(v, f, el.lo, el.hi, building.footprint, is_wall)
        names = [surfaces.get(r, surfaces.get("core", "concrete")) for r in roles]
        own = getattr(el, "material", None)
        member = own if own in _FACADES else facade  # the member's own facade material
        names = [member if m == FACADE else m for m in names]
        mat = np.array([MATERIAL_ID[m] for m in names], np.int32)
        base = np.array([_base(m, building, facade) for m in names]) * tint[e]
        meshes.append(
            Mesh(v, f, tuple(base.mean(axis=0)), f"frag_{i:05d}", {"material": mat, "broken": broken, "albedo": base})
        )
    return meshes


def _base(name: str, building, facade: str) -> np.ndarray:
    if name == facade:
        return np.asarray(building.color, float)
    return np.asarray(BASE_ALBEDO[name], float)


_FACADES = ("concrete", "brick", "sandstone")


def facade_material(building) -> str:
    """The material of the building's walls: its piers' and bands' own material, or the
    facade material closest to the building's colour (buildings whose members carry none)."""
    for e in building.elements:
        if e.kind in ("pier", "band", "wall") and getattr(e, "material", None) in _FACADES:
            return e.material
    return _closest_facade(building.color)


def _closest_facade(color) -> str:
    return min(_FACADES, key=lambda m: np.sum((np.asarray(BASE_ALBEDO[m]) - np.asarray(color)) ** 2))


def tag(mesh: Mesh, material: str, broken: bool = False) -> Mesh:
    """Give every face of a mesh one material (debris chunks, environment pieces)."""
    n = len(mesh.faces)
    mesh.meta.setdefault("material", np.full(n, MATERIAL_ID[material], np.int32))
    mesh.meta.setdefault("broken", np.full(n, broken))
    mesh.meta.setdefault("albedo", np.tile(np.asarray(mesh.color, float), (n, 1)))
    return mesh


def face_albedo(mesh: Mesh) -> np.ndarray:
    """(F, 3) base albedo per face (the mesh colour where none was assigned)."""
    if "albedo" in mesh.meta:
        return np.asarray(mesh.meta["albedo"], float)
    color = np.asarray(mesh.color, float)
    if color.ndim == 2:  # one colour per face already
        return color.reshape(len(mesh.faces), 3)
    return np.tile(color, (len(mesh.faces), 1))


# Procedural textures, one parameter row per material (a new material is a new row):
# cell: bond of blocks/panels/flags (size u, size v in m, stagger share, joint width m);
# joint: joint colour = mix(base * r, (r, g, b), a); vary: (per-cell brightness spread,
# weathering: stains and rain streaks, fine grain amplitude, fine grain frequency 1/m);
# extra: (window grid of a neighbour facade, share of odd dark units, soot from above, -).
# The shader is branch-free (a software rasteriser runs every branch): every material
# evaluates the same few noise fetches with its own parameters.
TEXTURES: dict[str, dict[str, tuple]] = {
    "concrete": {"cell": (3.0, 1.6, 0.0, 0.012), "joint": (0.55, 0, 0, 0), "vary": (0.12, 1.0, 0.16, 23.0)},
    "brick": {
        "cell": (0.225, 0.075, 0.5, 0.006),
        "joint": (0.36, 0.35, 0.33, 1.0),
        "vary": (0.4, 0.8, 0.14, 23.0),
        "extra": (0, 0.07, 0, 0),
    },
    "sandstone": {
        "cell": (0.9, 0.45, 0.5, 0.006),
        "joint": (1.12, 0, 0, 0),
        "vary": (0.22, 0.5, 0.2, 12.0),
        "extra": (0, 0, 0.35, 0),
    },
    "plaster": {"vary": (0.0, 0.25, 0.06, 23.0)},
    "floor": {"cell": (1.2, 0.15, 0.5, 0.002), "joint": (0.7, 0, 0, 0), "vary": (0.25, 0.0, 0.1, 23.0)},
    "glass": {},
    "asphalt": {"vary": (0.0, 0.9, 0.45, 60.0)},
    "paving": {"cell": (0.6, 0.6, 0.0, 0.006), "joint": (0.6, 0, 0, 0), "vary": (0.18, 0.9, 0.16, 23.0)},
    "kerb": {"cell": (1.0, 9.0, 0.0, 0.005), "joint": (0.7, 0, 0, 0), "vary": (0.1, 0.3, 0.3, 30.0)},
    "facade": {"vary": (0.0, 1.0, 0.12, 23.0), "extra": (1, 0, 0, 0)},
    "roof": {"vary": (0.0, 1.0, 0.4, 2.0)},
    "marking": {"vary": (0.0, 0.5, 0.2, 23.0)},
}


def texture_uniforms() -> dict[str, np.ndarray]:
    """The parameter table as uniform arrays (one vec4 per material and field)."""
    out = {}
    for key in ("cell", "joint", "vary", "extra"):
        rows = [TEXTURES.get(name, {}).get(key, (0.0, 0.0, 0.0, 0.0)) for name in MATERIALS]
        out[f"m_{key}"] = np.asarray(rows, np.float32)
    out["m_joint"][out["m_cell"][:, 3] == 0] = (1.0, 0.0, 0.0, 0.0)  # no joints: joint colour = base
    return out


GLSL = """
#define N_MAT %NMAT%
uniform vec4 m_cell[N_MAT]; uniform vec4 m_joint[N_MAT]; uniform vec4 m_vary[N_MAT]; uniform vec4 m_extra[N_MAT];
uniform sampler3D noise_tex;  // NOISE_SIZE^3 value noise, tiling (see noise_volume)
float hash12(vec2 p) {
    vec3 q = fract(vec3(p.xyx) * 0.1031);
    q += dot(q, q.yzx + 33.33);
    return fract((q.x + q.y) * q.z);
}
float vnoise(vec3 p) { return texture(noise_tex, p * (1.0 / %NOISE%.0)).r; }
// 2D coordinates on a face: (along the wall, up) on walls, (x, y) on floors
vec2 face_uv(vec3 p, vec3 n) {
    vec3 a = abs(n);
    if (a.z > 0.7) return p.xy;
    return a.x > a.y ? vec2(p.y, p.z) : vec2(p.x, p.z);
}
// neighbour facades: a storey grid of windows (shopfronts on the ground floor); 1 inside a pane
float window_mask(vec2 uv, float variant, out vec2 cell) {
    // each neighbour its own bay, storey and window proportions (variant in [0, 1))
    vec2 size = vec2(mix(2.6, 3.8, variant), mix(3.0, 3.6, fract(variant * 7.3)));
    vec2 share = vec2(mix(0.35, 0.62, fract(variant * 3.1)), mix(0.42, 0.68, fract(variant * 5.7)));
    cell = floor(uv / size);
    vec2 f = fract(uv / size);
    float ground = cell.y < 0.5 ? 1.0 : 0.0;  // shopfronts: wide and tall
    vec2 half_open = mix(share * 0.5, vec2(0.42, 0.4), ground);
    vec2 centre = vec2(0.5, mix(0.55, 0.5, ground));
    vec2 d = abs(f - centre);
    return step(d.x, half_open.x) * step(d.y, half_open.y);
}
vec3 material_albedo(int mat, vec3 p, vec3 n, vec3 base, bool broken, float variant, out float window) {
    vec4 cell = m_cell[mat], jc = m_joint[mat], vary = m_vary[mat], extra = m_extra[mat];
    vec2 uv = face_uv(p, n);
    // bond: which block/panel/flag, and how far to its joint
    vec2 size = max(cell.xy, vec2(1e-3));
    float row = floor(uv.y / size.y);
    vec2 q = vec2(uv.x / size.x + cell.z * mod(row, 2.0), uv.y / size.y);
    vec2 to_joint = min(fract(q), 1.0 - fract(q)) * size;
    float in_unit = cell.w > 0.0 ? smoothstep(cell.w * 0.5, cell.w, min(to_joint.x, to_joint.y)) : 1.0;
    float h = hash12(floor(q) + 0.37 * floor(p.z * 0.01));
    vec3 unit = base * (1.0 + vary.x * (h - 0.5)) * (h > 1.0 - extra.y ? 0.7 : 1.0);
    vec3 joint = mix(base * jc.r, jc.rgb, jc.a);
    // weathering: broad stains and rain streaks running down, soot from above
    float stain = vnoise(p * 0.45);
    float streak = smoothstep(0.55, 0.95, vnoise(vec3(uv.x * 5.0, uv.y * 0.25, 1.7)));
    float weather = mix(1.0, mix(1.12, 0.78, stain) * (1.0 - 0.22 * streak), vary.y);
    weather *= 1.0 - extra.z * smoothstep(0.45, 0.8, stain);
    float fine = vnoise(p * (broken ? 37.0 : vary.w));
    vec3 albedo = mix(joint, unit, in_unit) * weather * (1.0 + vary.z * (fine - 0.5));
    // neighbour facade windows: dark rooms, some with lit curtains
    vec2 wcell;
    window = extra.x * window_mask(uv, variant, wcell);
    vec3 room = mix(vec3(0.018, 0.017, 0.016), vec3(0.12, 0.11, 0.09), step(0.7, hash12(wcell + floor(p.xy * 0.05))));
    albedo = mix(albedo, room, window);
    // a fresh fracture: pale, coarse aggregate, no weathering
    vec3 fresh = base * (1.32 + 0.4 * (fine - 0.5)) + vec3(0.03);
    return broken ? fresh : albedo;
}
""".replace("%NMAT%", str(len(MATERIALS)))


PANE_SETBACK = 0.35  # share of the wall thickness from the outside face to the glass


def window_panes(building, meshes: list[Mesh]) -> tuple[list[Mesh], np.ndarray]:
    """Glass in every window opening (the gaps between neighbouring piers of one wall and
    storey), each pane riding on the nearest fragment of its wall, as (meshes, owner part index).
    Buildings whose members already include glass get none: their glass fragments are drawn."""
    if any(e.kind == "glass" for e in building.elements):
        return [], np.zeros(0, int)
    walls: dict[tuple, list] = {}
    for e in building.elements:
        if e.kind != "pier":
            continue
        size = np.subtract(e.hi, e.lo)
        normal_axis = 0 if size[0] < size[1] else 1
        walls.setdefault((e.floor, normal_axis, round(e.lo[normal_axis], 3)), []).append(e)
    centres = np.array([m.vertices.mean(axis=0) for m in meshes]) if meshes else np.zeros((0, 3))
    panes, owners = [], []
    for (_floor, axis, _offset), piers in walls.items():
        run = 1 - axis
        piers.sort(key=lambda e: e.lo[run])
        for a, b in zip(piers, piers[1:]):
            gap = (a.hi[run], b.lo[run])
            if gap[1] - gap[0] < 0.05:
                continue
            lo_n, hi_n = a.lo[axis], a.hi[axis]
            outside_hi = abs(hi_n) > abs(lo_n)  # which face of the wall is the outside
            depth = hi_n - PANE_SETBACK * (hi_n - lo_n) if outside_hi else lo_n + PANE_SETBACK * (hi_n - lo_n)
            z0, z1 = a.lo[2], a.hi[2]
            quad = np.zeros((4, 3))
            quad[:, run] = [gap[0], gap[1], gap[1], gap[0]]
            quad[:, axis] = depth
            quad[:, 2] = [z0, z0, z1, z1]
            pane = tag(Mesh(quad, np.array([[0, 1, 2], [0, 2, 3]]), BASE_ALBEDO["glass"], "pane"), "glass")
            centre = quad.mean(axis=0)
            if len(centres):
                owners.append(int(np.argmin(np.linalg.norm(centres - centre, axis=1))))
                panes.append(pane)
    return panes, np.asarray(owners, int)


def follow(matrices: np.ndarray, owners: np.ndarray, rest_centres: np.ndarray, limit: float = 0.12) -> np.ndarray:
    """Transforms of attached parts: each takes its owner's, and is gone (zero matrix, as hidden
    parts) once that would carry it more than `limit` metres: the glass has broken out."""
    m = matrices[owners].copy()
    moved = np.einsum("nij,nj->ni", m[:, :3, :3], rest_centres) + m[:, :3, 3] - rest_centres
    m[np.linalg.norm(moved, axis=1) > limit] = 0.0
    return m


def noise_volume(size: int = NOISE_SIZE, seed: int = 1234) -> np.ndarray:
    """A tiling volume of value noise in [0, 1] (one random value per lattice point; the
    texture unit's trilinear filter interpolates), shared by every shader: one fetch per octave."""
    return np.random.default_rng(seed).random((size, size, size)).astype(np.float32)
