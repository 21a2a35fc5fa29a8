"""Storyboards: simple 3D blocking per scene, one camera per shot, drawn with
the preview renderer.

Blocking is built from a scene's breakdown alone, so the same script always
gives the same boards:

- INT scenes: a three-walled room (open towards camera, as a stage set) with a
  window in the back wall, a door gap in the left wall and dressing picked by
  the location's name (stairs, counter, bed, or a table), the hand props on it.
- EXT scenes: a street with kerbs and building proxies (boxes with dark window
  bands); vehicles, a crane or police tape when the scene names them (PARK,
  FIELD, FOREST... locations without destruction get grass, trees, a bench). Scenes
  with destruction beats get setpiece's procedural building (``make_building``)
  as the hero: intact before the collapse beat, mid-collapse in the collapse
  shot, a rubble heap after it (and in RUINS/RUBBLE locations).
- Characters: mannequins (legs, torso, arms, head with hair at the back and a
  nose, so facing reads), one muted colour per name, the same in every scene,
  blocked facing each other (two), in an arc (three or more), or alone.
- VFX beats: proxies for dust, smoke, debris, glass, fire, sparks and cracks,
  shown only in their own VFX shot.

Each shot gets a camera from its size (framing height on the subject), angle
(camera height/elevation, a roll for dutch), lens (focal length on a 36 mm
sensor) and kind (OTS behind the other character's shoulder, inserts close on
the prop, VFX on the beat's place). Boards are drawn at twice the size, outlined
from the id/depth/normal passes like a pencil board, lightly desaturated, and
reduced; they carry one small corner label (shot, lens, angle), since the
animatic and contact sheet add the caption.

``StoryboardRenderer(scenes, shots)`` packs every scene's parts into one
``PreviewRenderer`` (one GL context; shaders compile once) and hides the other
scenes' parts per board; a very long script is split into several batches.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field, fields

import numpy as np
from PIL import Image, ImageDraw
from scipy.spatial import ConvexHull

from setpiece.artifacts import Passes
from setpiece.camera import Camera, sun_direction
from setpiece.geometry import Mesh, box_mesh
from setpiece.previz.animatic import _fit, _font
from setpiece.previz.breakdown import SceneBreakdown
from setpiece.previz.shotlist import Shot
from setpiece.spec import BuildingSection
from setpiece.world.building import make_building

__all__ = ["Actor", "Blocking", "Board", "StoryboardRenderer", "block_scene", "frame_shot", "storyboard"]

SENSOR_WIDTH = 36.0  # mm, full-frame, as ShotSpec's camera
SUPERSAMPLE = 2  # boards are drawn at this multiple and reduced...
SUPERSAMPLE_MAX_PIXELS = 1024 * 576  # ...up to this board size; bigger ones are drawn as they are
BATCH_TRIANGLES = 150_000  # scenes per GL context are packed up to this many triangles
GROUND = (0.30, 0.30, 0.29)

# Muted linear-RGB costume colours; a name picks one by hash, the same in every scene.
CHARACTER_COLORS = (
    (0.42, 0.10, 0.08),
    (0.08, 0.18, 0.42),
    (0.18, 0.30, 0.08),
    (0.50, 0.34, 0.05),
    (0.26, 0.11, 0.36),
    (0.05, 0.30, 0.28),
    (0.46, 0.18, 0.04),
    (0.20, 0.22, 0.30),
)
SKIN = (0.50, 0.33, 0.24)
HAIR = (0.05, 0.04, 0.035)
PROP_COLORS = ((0.55, 0.42, 0.10), (0.10, 0.30, 0.45), (0.50, 0.14, 0.10), (0.20, 0.40, 0.18))

# Board lighting per resolved time of day: sun elevation, sun rgb, sky rgb, key.
# Exposure is set from the light falling on the ground, times the key: boards stay
# readable at any hour, and NIGHT is kept darker (and blue) on purpose.
LIGHT = {
    "day": (50.0, (3.0, 2.88, 2.7), (0.33, 0.41, 0.54), 1.0),
    "morning": (30.0, (2.8, 2.5, 2.1), (0.33, 0.39, 0.52), 0.97),
    "evening": (22.0, (2.7, 2.15, 1.65), (0.30, 0.31, 0.42), 0.9),
    "dawn": (18.0, (2.5, 1.85, 1.35), (0.30, 0.31, 0.44), 0.88),
    "dusk": (16.0, (2.4, 1.55, 1.05), (0.25, 0.25, 0.40), 0.82),
    "night": (40.0, (0.42, 0.52, 0.85), (0.05, 0.08, 0.16), 0.42),
}
GREY_CARD = 1.45  # exposed value of the light on the ground, before the key
SUN_AZIMUTH = 205.0  # from the camera side (-Y), a little from the left
INT_SUN_ELEVATION = 55.0  # rooms have no ceiling: a high key keeps walls from shading it all

# Frame bottom/top as fractions of the subject's height, per shot size.
BODY_FRAME = {"WS": (-0.16, 1.30), "MS": (0.42, 1.07), "MCU": (0.62, 1.05), "CU": (0.755, 1.035), "ECU": (0.875, 0.985)}
EWS_BODIES = 6.0  # an EWS on people is this many body heights tall
# Frame height (m) on a place (VFX beat, prop) per size, outside and inside.
PLACE_FRAME = {"EWS": 40.0, "WS": 14.0, "MS": 6.0, "MCU": 3.0, "CU": 1.6, "ECU": 0.6}
ROOM_FRAME = {"EWS": 3.6, "WS": 3.2, "MS": 2.4, "MCU": 1.5, "CU": 0.9, "ECU": 0.4}
PROP_FRAME = {"EWS": 14.0, "WS": 8.0, "MS": 5.0, "MCU": 3.0, "CU": 1.8, "ECU": 1.1}  # x prop size
PROP_FRAME_MIN = {"EWS": 6.0, "WS": 3.0, "MS": 1.5, "MCU": 0.8, "CU": 0.5, "ECU": 0.25}  # metres
ELEVATION = {"high": 28.0, "overhead": 82.0}  # degrees down onto the subject
LOW_ANGLE = 20.0  # degrees up
DUTCH_ROLL = 12.0  # degrees

GLOW = {"fire": (1.5, 0.42, 0.05), "explosion": (1.7, 0.6, 0.08), "sparks": (3.0, 2.0, 0.4)}
SMALL_FX = ("cracks", "sparks", "glass")
FX_CATEGORIES = ("collapse", "explosion", "fire", "glass", "debris", "cracks", "dust", "smoke", "sparks", "shake")

_WORD_NUMBERS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_STOREYS = re.compile(r"\b(\d{1,2}|[a-z]+)[- ]stor(?:e)?(?:y|ies|eys)\b", re.I)
_ALSO = re.compile(r"\[also: ([^\]]*)\]")


# =========================================================================== meshes


def _hull(points, color, name="hull") -> Mesh:
    """Convex hull of points, faces wound outwards."""
    pts = np.asarray(points, float)
    hull = ConvexHull(pts)
    faces = hull.simplices.copy()
    centre = pts.mean(axis=0)
    tri = pts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", n, tri[:, 0] - centre) < 0
    faces[flip] = faces[flip][:, ::-1]
    return Mesh(pts, faces, color, name)


def _ring(centre, rx, ry, z, n=8, phase=0.0) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False) + phase
    return np.c_[centre[0] + rx * np.cos(a), centre[1] + ry * np.sin(a), np.full(n, z)]


def _sphere_points(n=26) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    r = np.sqrt(1 - z * z)
    a = k * math.pi * (3 - math.sqrt(5))
    return np.c_[r * np.cos(a), r * np.sin(a), z]


_UNIT_SPHERE = _sphere_points(26)
_UNIT_SPHERE_FINE = _sphere_points(48)


def _sphere(centre, radius, color, fine=False, squash=1.0) -> Mesh:
    unit = _UNIT_SPHERE_FINE if fine else _UNIT_SPHERE
    return _hull(np.asarray(centre) + unit * np.array([radius, radius, radius * squash]), color)


def _limb(p0, p1, r0, r1, color, n=7) -> Mesh:
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
    return _hull(np.vstack([p0 + r0 * ring, p1 + r1 * ring]), color)


def _box(lo, hi, color) -> Mesh:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return box_mesh((lo + hi) / 2, hi - lo, color)


def _merge(meshes: list[Mesh], name: str) -> Mesh:
    """One mesh with per-face colours (the renderer reads (F, 3) colour arrays)."""
    verts, faces, colors, offset = [], [], [], 0
    for m in meshes:
        verts.append(m.vertices)
        faces.append(m.faces + offset)
        offset += len(m.vertices)
        c = np.asarray(m.color, float)
        colors.append(np.broadcast_to(c, (len(m.faces), 3)) if c.ndim == 1 else c)
    return Mesh(np.vstack(verts), np.vstack(faces).astype(np.int64), np.vstack(colors), name)


def _moved(mesh: Mesh, matrix: np.ndarray) -> Mesh:
    v = mesh.vertices @ matrix[:3, :3].T + matrix[:3, 3]
    return Mesh(v, mesh.faces, mesh.color, mesh.name)


def _yaw_matrix(yaw: float, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = origin
    return m


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _chunk(rng, centre, size, color) -> Mesh:
    """A randomly turned box (rubble, debris)."""
    m = box_mesh((0, 0, 0), size, color)
    rot = _rotation(rng)
    return Mesh(m.vertices @ rot.T + np.asarray(centre), m.faces, color)


def _tint(color, rng, spread=0.08) -> tuple:
    return tuple(np.clip(np.asarray(color) * rng.uniform(1 - spread, 1 + spread), 0, 1))


def _seed(*texts: str) -> int:
    return zlib.crc32("\x1f".join(texts).encode("utf-8"))


# =========================================================================== mannequins


def character_color(name: str) -> tuple:
    return CHARACTER_COLORS[_seed(name.upper()) % len(CHARACTER_COLORS)]


def character_height(name: str) -> float:
    return 1.66 + (_seed("height", name.upper()) % 17) / 100  # 1.66 .. 1.82 m


def mannequin(color, height: float = 1.75) -> Mesh:
    """A low-poly figure standing at the origin, facing +X (face, nose), in one mesh."""
    s = height / 1.75
    body = np.asarray(color, float)
    legs = body * 0.45 + 0.02
    shoe = (0.04, 0.035, 0.03)
    pieces = []
    for side in (-1, 1):
        y = 0.095 * side * s
        pieces.append(_box((-0.06 * s, y - 0.055 * s, 0), (0.17 * s, y + 0.055 * s, 0.075 * s), shoe))
        pieces.append(_limb((0, y, 0.06 * s), (0, y * 1.05, 0.9 * s), 0.055 * s, 0.085 * s, legs))
        shoulder = np.array([0.0, 0.205 * side * s, 1.42 * s])
        elbow = np.array([0.03 * s, 0.235 * side * s, 1.12 * s])
        hand = np.array([0.09 * s, 0.235 * side * s, 0.86 * s])
        pieces.append(_limb(shoulder, elbow, 0.05 * s, 0.043 * s, body))
        pieces.append(_limb(elbow, hand, 0.043 * s, 0.036 * s, body))
        pieces.append(_sphere(hand, 0.045 * s, SKIN))
    pieces.append(_box((-0.1 * s, -0.17 * s, 0.84 * s), (0.1 * s, 0.17 * s, 1.0 * s), legs))
    torso = np.vstack(
        [
            _ring((0, 0), 0.10 * s, 0.165 * s, 0.95 * s, 10),
            _ring((0, 0), 0.125 * s, 0.215 * s, 1.36 * s, 10),
            _ring((0, 0), 0.09 * s, 0.17 * s, 1.47 * s, 10),
        ]
    )
    pieces.append(_hull(torso, body))
    pieces.append(_limb((0, 0, 1.44 * s), (0.01 * s, 0, 1.56 * s), 0.05 * s, 0.045 * s, SKIN))
    head = _sphere((0.01 * s, 0, 1.635 * s), 0.105 * s, SKIN, fine=True, squash=1.15)
    centres = head.vertices[head.faces].mean(axis=1) - np.array([0.01 * s, 0, 1.635 * s])
    hair = (
        (centres[:, 0] < -0.03 * s)
        | (centres[:, 2] > 0.07 * s)
        | ((centres[:, 0] < 0.03 * s) & (centres[:, 2] > 0.02 * s))
    )
    head.color = np.where(hair[:, None], np.asarray(HAIR), np.asarray(SKIN))
    pieces.append(head)
    pieces.append(_box((0.095 * s, -0.017 * s, 1.60 * s), (0.135 * s, 0.017 * s, 1.645 * s), SKIN))
    for side in (-1, 1):  # eyes: which way a head faces reads at any size
        pieces.append(
            _box(
                (0.088 * s, (side * 0.042 - 0.014) * s, 1.655 * s),
                (0.112 * s, (side * 0.042 + 0.014) * s, 1.675 * s),
                HAIR,
            )
        )
    return _merge(pieces, "mannequin")


@dataclass
class Actor:
    name: str
    position: np.ndarray  # feet, world metres
    yaw: float  # facing direction, radians from +X
    height: float
    part: int
    color: tuple = (0.5, 0.5, 0.5)  # costume (linear RGB)

    @property
    def facing(self) -> np.ndarray:
        return np.array([math.cos(self.yaw), math.sin(self.yaw), 0.0])

    def at(self, fraction: float) -> np.ndarray:
        """The point on the body's axis at this fraction of its height."""
        return self.position + np.array([0.0, 0.0, self.height * fraction])

    @property
    def eye(self) -> np.ndarray:
        return self.at(0.935) + self.facing * 0.08 * self.height / 1.75


# =========================================================================== props


_ROUND = (
    "flashlight",
    "bottle",
    "cup",
    "mug",
    "coffee",
    "extinguisher",
    "fire extinguisher",
    "dynamite",
    "stopwatch",
    "timer",
    "megaphone",
    "bullhorn",
    "hose",
    "rope",
)
_FLAT = (
    "clipboard",
    "map",
    "letter",
    "photo",
    "photograph",
    "book",
    "notebook",
    "folder",
    "envelope",
    "blueprint",
    "newspaper",
    "tablet",
    "laptop",
    "badge",
    "wallet",
)
_DOME = ("hard hat", "hardhat", "helmet")


def prop_mesh(name: str, color) -> tuple[Mesh, np.ndarray]:
    """A hand-prop proxy resting on z = 0 at the origin, and its size."""
    n = name.lower()
    if n in _DOME:
        pts = _UNIT_SPHERE_FINE * [0.15, 0.13, 0.12]
        pts = np.vstack([pts[pts[:, 2] >= 0], _ring((0, 0), 0.19, 0.16, 0.0, 12)])
        return _hull(pts, color), np.array([0.38, 0.32, 0.13])
    if n in _ROUND:
        length = 0.26 if n in ("flashlight", "megaphone", "bullhorn", "extinguisher", "fire extinguisher") else 0.14
        if n in ("flashlight", "megaphone", "bullhorn", "dynamite", "hose", "rope"):
            m = _limb((-length / 2, 0, 0.035), (length / 2, 0, 0.035), 0.03, 0.04, color, 10)
            return m, np.array([length, 0.08, 0.08])
        m = _limb((0, 0, 0), (0, 0, length), 0.045, 0.045, color, 10)
        return m, np.array([0.09, 0.09, length])
    if n in _FLAT:
        size = np.array([0.24, 0.32, 0.02]) if n != "laptop" else np.array([0.34, 0.24, 0.025])
        return _box(-size * [0.5, 0.5, 0], size * [0.5, 0.5, 1], color), size
    if n in ("radio", "walkie", "walkie-talkie", "phone", "cell phone", "remote", "detonator"):
        body = _box((-0.04, -0.025, 0), (0.04, 0.025, 0.17), color)
        aerial = _box((0.02, -0.006, 0.17), (0.032, 0.006, 0.3), (0.05, 0.05, 0.05))
        return _merge([body, aerial], name), np.array([0.09, 0.06, 0.3])
    size = np.array([0.22, 0.16, 0.14])
    return _box(-size * [0.5, 0.5, 0], size * [0.5, 0.5, 1], color), size


@dataclass
class PropPlace:
    name: str
    center: np.ndarray
    size: np.ndarray
    part: int


# =========================================================================== blocking


@dataclass
class Hero:
    """The setpiece building in an exterior scene."""

    footprint: tuple[float, float]
    height: float
    storey: float
    floors: list[int]  # part per storey (intact / collapsing)
    rubble: int  # part: heap and stump (after the collapse)
    exposure_inside: float = 0.25


@dataclass
class FxGroup:
    """The proxies of one VFX beat (action line): lead category and the others."""

    line: int
    lead: str
    categories: tuple[str, ...]
    anchor: np.ndarray = field(default_factory=lambda: np.zeros(3))
    parts: dict[str, int] = field(default_factory=dict)


@dataclass
class Blocking:
    """Set, characters, props and VFX proxies of one scene, as renderer parts."""

    scene: str
    exterior: bool
    lighting: str
    parts: list[Mesh] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # "set", "character:NAME", "prop:NAME", ...
    exposure: list[np.ndarray] = field(default_factory=list)
    actors: dict[str, Actor] = field(default_factory=dict)
    props: dict[str, PropPlace] = field(default_factory=dict)
    fx: list[FxGroup] = field(default_factory=list)
    hero: Hero | None = None
    ruined: bool = False  # the hero is rubble in every shot
    collapse_line: int | None = None  # the hero falls in the shot on this line
    stage: np.ndarray = field(default_factory=lambda: np.zeros(3))
    room: tuple[float, float, float, float, float] | None = None  # x0, x1, y0, y1, height
    front: float = -5.0  # EXT: building line (y)
    tallest: float = 0.0
    anchors: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, mesh: Mesh, label: str, exposure: np.ndarray | float = 1.0) -> int:
        self.parts.append(mesh)
        self.labels.append(label)
        self.exposure.append(np.broadcast_to(np.asarray(exposure, float), (len(mesh.faces),)).copy())
        return len(self.parts) - 1

    @property
    def triangles(self) -> int:
        return sum(len(m.faces) for m in self.parts)

    def parts_labelled(self, prefix: str) -> list[int]:
        return [k for k, label in enumerate(self.labels) if label.startswith(prefix)]


def scene_cast(scene: SceneBreakdown, shots: list[Shot] = ()) -> list[str]:
    """Characters seen in the scene: on-screen speakers, then people the action
    names, then anyone an (edited) shot adds."""
    seen = [s.character for s in scene.speeches if not s.off_screen] + list(scene.mentioned)
    for shot in shots:
        seen += shot.characters
    return list(dict.fromkeys(n.strip().upper() for n in seen if n.strip()))


def vfx_groups(scene: SceneBreakdown, shots: list[Shot] = ()) -> list[tuple[int, str, tuple]]:
    """(line, lead, categories) of every VFX beat: the scene's, and its VFX shots'."""
    groups: dict[int, list[str]] = {}
    for beat in scene.vfx:
        groups.setdefault(beat.line, [])
        if beat.category not in groups[beat.line]:
            groups[beat.line].append(beat.category)
    for shot in shots:
        if shot.kind == "vfx":
            cats = shot_categories(shot)
            have = groups.get(shot.line)
            if have is None or have[0] != cats[0]:
                groups[shot.line] = cats
    return [(line, cats[0], tuple(cats)) for line, cats in sorted(groups.items()) if cats]


def shot_categories(shot: Shot) -> list[str]:
    """A VFX shot's lead category (its subject) and the ones its description adds."""
    lead = shot.subject.lower() if shot.subject.lower() in FX_CATEGORIES else "collapse"
    out = [lead]
    if m := _ALSO.search(shot.description):
        out += [c.strip().lower() for c in m.group(1).split(",") if c.strip().lower() in FX_CATEGORIES]
    return list(dict.fromkeys(out))


def _is_exterior(scene: SceneBreakdown) -> bool:
    return scene.int_ext in ("EXT", "INT/EXT")


def _base_location(scene: SceneBreakdown) -> str:
    return (scene.location or scene.heading).split(" - ")[0].strip().upper()


def _scene_text(scene: SceneBreakdown) -> str:
    return " ".join([scene.heading, scene.summary] + [b.text for b in scene.vfx])


def building_section(text: str) -> BuildingSection:
    """Storeys and material from the script's words ('a grey six-storey concrete block')."""
    floors = 6
    if m := _STOREYS.search(text):
        word = m.group(1).lower()
        n = int(word) if word.isdigit() else _WORD_NUMBERS.get(word)
        if n:
            floors = min(max(n, 1), 20)
    low = text.lower()
    material = next((m for m in ("brick", "sandstone", "concrete") if m in low), "concrete")
    return BuildingSection(floors=floors, material=material)


def block_scene(scene: SceneBreakdown, shots: list[Shot] = (), notes: str = "") -> Blocking:
    """The scene's blocking. ``shots`` (of this scene) add characters and VFX beats an
    edited shot list names; ``notes`` is text about the location from other scenes
    (storeys, material)."""
    blk = Blocking(scene.number, _is_exterior(scene), scene.lighting or "day")
    rng = np.random.default_rng(_seed(_base_location(scene), scene.int_ext))
    groups = vfx_groups(scene, shots)
    green = ("PARK", "FOREST", "WOOD", "FIELD", "GARDEN", "MEADOW", "COUNTRYSIDE", "FARM")
    place = (scene.location or scene.heading).upper()
    if blk.exterior and not groups and any(re.search(rf"\b{w}", place) for w in green):
        _park(blk, rng)
    elif blk.exterior:
        _street(blk, scene, groups, notes or _scene_text(scene), rng)
    else:
        _room(blk, scene, rng)
    _place_actors(blk, scene_cast(scene, shots))
    _place_props(blk, scene)
    _place_fx(blk, groups, np.random.default_rng(_seed("fx", scene.number, scene.heading)))
    return blk


# --------------------------------------------------------------------------- interiors

ROOM_X = 4.5  # half width
ROOM_BACK = 3.5
ROOM_FRONT = -9.0  # side walls and floor run on, so a camera backing out stays on the set
ROOM_H = 3.0
WALL = 0.2


def _room(blk: Blocking, scene: SceneBreakdown, rng) -> None:
    wall = _tint((0.50, 0.49, 0.46), rng, 0.05)
    floor_c = _tint((0.33, 0.30, 0.27), rng, 0.06)
    x0, x1, y0, y1, h = -ROOM_X, ROOM_X, ROOM_FRONT, ROOM_BACK, ROOM_H
    pieces = [_box((x0 - WALL, y0, -0.05), (x1 + WALL, y1 + WALL, 0.0), floor_c)]
    # back wall with a window (x 0.9..2.7, z 0.9..2.2)
    wx0, wx1, wz0, wz1 = 0.9, 2.7, 0.9, 2.2
    back = [((x0, wx0), (0, h)), ((wx1, x1), (0, h)), ((wx0, wx1), (0, wz0)), ((wx0, wx1), (wz1, h))]
    for (a, b), (za, zb) in back:
        pieces.append(_box((a, y1, za), (b, y1 + WALL, zb), wall))
    sill = (0.35, 0.33, 0.30)
    pieces.append(_box((wx0 - 0.05, y1 - 0.12, wz0 - 0.06), (wx1 + 0.05, y1 + WALL, wz0), sill))
    pieces.append(_box(((wx0 + wx1) / 2 - 0.03, y1 + 0.05, wz0), ((wx0 + wx1) / 2 + 0.03, y1 + 0.12, wz1), sill))
    # left wall with a door gap (y 0.3..1.3, up to 2.1), right wall whole
    dy0, dy1, dz = 0.3, 1.3, 2.1
    pieces.append(_box((x0 - WALL, y0, 0), (x0, dy0, h), wall))
    pieces.append(_box((x0 - WALL, dy1, 0), (x0, y1 + WALL, h), wall))
    pieces.append(_box((x0 - WALL, dy0, dz), (x0, dy1, h), wall))
    pieces.append(_box((x1, y0, 0), (x1 + WALL, y1 + WALL, h), wall))
    # skirting, so the floor line reads
    skirt = (0.22, 0.21, 0.20)
    pieces.append(_box((x0, y1 - 0.02, 0), (x1, y1, 0.1), skirt))
    pieces.append(_box((x1 - 0.02, y0, 0), (x1, y1, 0.1), skirt))
    blk.room = (x0, x1, y0, y1, h)
    blk.stage = np.array([-0.3, 0.9, 0.0])
    blk.anchors = {
        "wall": np.array([-1.2, y1, 2.1]),
        "window": np.array([(wx0 + wx1) / 2, y1, 1.55]),
        "ceiling": np.array([-0.3, 0.9, h]),
        "floor": np.array([-0.3, 0.9, 0.0]),
    }
    name = (scene.location or scene.heading).upper()
    surface = 0.76
    if "STAIR" in name:
        for k in range(15):
            pieces.append(
                _box(
                    (x1 - 2.0, -2.6 + k * 0.32, 0),
                    (x1, -2.6 + (k + 1) * 0.32, (k + 1) * 0.19),
                    _tint((0.45, 0.43, 0.40), rng, 0.02),
                )
            )
        rail = (0.12, 0.12, 0.12)
        pieces.append(_limb((x1 - 2.0, -2.45, 1.1), (x1 - 2.0, -2.6 + 15 * 0.32, 3.95), 0.03, 0.03, rail, 6))
        for k in (0, 5, 10, 14):
            y = -2.45 + k * 0.32
            pieces.append(
                _box((x1 - 2.03, y - 0.02, (k + 1) * 0.19), (x1 - 1.97, y + 0.02, 1.1 + k * 0.19 + 0.05), rail)
            )
        # a landing crate holds the props
        table = ((-3.3, 2.2), (1.0, 0.7), 0.6)
    elif any(k in name for k in ("KITCHEN", "BAR", "DINER", "CAFE", "PUB", "COUNTER")):
        pieces.append(_box((x0 + 0.3, y1 - 0.7, 0), (x0 + 4.0, y1, 0.92), (0.40, 0.38, 0.35)))
        table = ((2.4, 1.4), (1.2, 0.8), 0.76)
    elif "BEDROOM" in name or "MOTEL" in name or "HOTEL" in name:
        pieces.append(_box((x0 + 0.2, 1.0, 0), (x0 + 2.2, y1, 0.5), (0.45, 0.42, 0.40)))
        pieces.append(_box((x0 + 0.2, y1 - 0.4, 0.5), (x0 + 2.2, y1, 0.62), (0.60, 0.58, 0.55)))
        table = ((2.4, 1.6), (0.6, 0.5), 0.55)
    else:
        table = ((2.4, 1.5), (1.4, 0.8), 0.76)
    (tx, ty), (tw, td), surface = table
    top = (0.36, 0.28, 0.20)
    pieces.append(_box((tx - tw / 2, ty - td / 2, surface - 0.05), (tx + tw / 2, ty + td / 2, surface), top))
    for sx in (-1, 1):
        for sy in (-1, 1):
            lx, ly = tx + sx * (tw / 2 - 0.06), ty + sy * (td / 2 - 0.06)
            pieces.append(_box((lx - 0.03, ly - 0.03, 0), (lx + 0.03, ly + 0.03, surface - 0.05), top))
    blk.anchors["table"] = np.array([tx, ty, surface])
    blk.anchors["table_size"] = np.array([tw, td, 0])
    blk.add(_merge(pieces, "room"), "set")
    blk.tallest = h


# --------------------------------------------------------------------------- exteriors


def _street(blk: Blocking, scene: SceneBreakdown, groups, notes: str, rng) -> None:
    place = (scene.location or scene.heading).upper()
    ruins = any(w in place for w in ("RUIN", "RUBBLE", "WRECK", "AFTERMATH"))
    hero_needed = bool(groups) or ruins
    if hero_needed:
        section = building_section(notes)
        w, d = section.footprint
        front = -d / 2
    else:
        w, d, front = 14.0, 10.0, -5.0
    blk.front = front
    pieces = []
    asphalt, kerb = (0.16, 0.16, 0.165), (0.42, 0.41, 0.39)
    pieces.append(_box((-400, front - 3.5, 0), (400, front + 60, 0.15), kerb))  # pavement, lots
    pieces.append(_box((-400, front - 14.0, 0), (400, front - 3.5, 0.02), asphalt))
    pieces.append(_box((-400, front - 17.5, 0), (400, front - 14.0, 0.15), kerb))
    for x in np.arange(-150, 150, 6.0):
        pieces.append(_box((x, front - 8.85, 0.02), (x + 3.0, front - 8.65, 0.03), (0.7, 0.7, 0.66)))
    # neighbours on the building line, three a side
    tallest = 0.0
    top = section.floors * section.storey_height * 0.8 if hero_needed else 24.0
    for side in (-1, 1):
        x = side * (w / 2 + rng.uniform(5.0, 8.0))
        for _ in range(3):
            bw, bd = rng.uniform(9, 16), rng.uniform(9, 14)
            bh = rng.uniform(min(7.0, top), max(7.0, top))
            x0 = x if side > 0 else x - bw
            pieces += _proxy_building((x0, front), (bw, bd), bh, rng)
            tallest = max(tallest, bh)
            blk.anchors.setdefault("neighbour" if side < 0 else "neighbour_r", np.array([x0 + bw / 2, front, 5.4]))
            x += side * (bw + rng.uniform(2.5, 6.0))
    # set dressing the scene names
    props = {p.name for p in scene.props}
    cars_x = [-w / 2 - 2.5, w / 2 + 4.0, -w / 2 - 12.0]
    if props & {"car", "ambulance", "van", "truck"} or any(b.keyword.lower() == "cars" for b in scene.vfx):
        for k, x in enumerate(cars_x):
            kind = ["car", "van", "car"][k] if "van" in props or "truck" in props else "car"
            pieces += _vehicle((x, front - 4.7), kind, _tint((0.30, 0.31, 0.33), rng, 0.2))
    if "ambulance" in props:
        pieces += _vehicle((w / 2 + 12.0, front - 4.7), "van", (0.62, 0.62, 0.6))
    if "police tape" in props or "caution tape" in props or "barricade" in props:
        blk.add(_merge(_tape(w, d, front, rng), "tape"), "set:tape")
    if "traffic cone" in props:
        for k in range(5):
            pieces.append(
                _limb((-4 + 2 * k, front - 3.9, 0.02), (-4 + 2 * k, front - 3.9, 0.7), 0.17, 0.02, (0.6, 0.2, 0.05), 8)
            )
    hero_h = 0.0
    if hero_needed:
        hero_h = _hero(blk, section, ruins, rng)
    else:
        pieces += _proxy_building((-w / 2, front), (w, d), 16.0, rng)
        hero_h = 16.0
        blk.anchors["window"] = np.array([-w / 2 + 3, front, 4.6])
        blk.anchors["base"] = np.array([0, front, 1.0])
    if "crane" in props or "CRANE" in place:
        mast_h = hero_h + 14
        x, y = w / 2 + 4.0, front + d + 3.0
        yellow = (0.45, 0.35, 0.06)
        pieces.append(_box((x - 0.8, y - 0.8, 0), (x + 0.8, y + 0.8, mast_h), yellow))
        pieces.append(_box((x - 22, y - 0.6, mast_h), (x + 8, y + 0.6, mast_h + 1.4), yellow))
        pieces.append(_box((x + 4, y - 1.2, mast_h - 1.8), (x + 8, y + 1.2, mast_h), (0.3, 0.3, 0.3)))
        pieces.append(_limb((x - 15, y, mast_h), (x - 15, y, mast_h * 0.45), 0.03, 0.03, (0.1, 0.1, 0.1), 4))
        tallest = max(tallest, mast_h)
    blk.add(_merge(pieces, "street"), "set")
    blk.tallest = max(tallest, hero_h)
    blk.stage = np.array([0.6, front - 8.0, 0.02])
    blk.anchors["table"] = np.array([blk.stage[0] + 2.4, blk.stage[1] + 0.9, 0.8])
    blk.anchors["table_size"] = np.array([1.2, 0.7, 0])


def _park(blk: Blocking, rng) -> None:
    """Grass, a path, a bench and trees; a town's edge far behind."""
    pieces = [_box((-300, -300, 0), (300, 300, 0.03), (0.17, 0.22, 0.11))]
    pieces.append(_box((-300, -15.0, 0.03), (300, -12.5, 0.05), (0.40, 0.37, 0.32)))
    bench = (0.30, 0.22, 0.14)
    bx, by = 2.2, -10.0
    pieces.append(_box((bx - 0.9, by - 0.25, 0.42), (bx + 0.9, by + 0.25, 0.47), bench))
    pieces.append(_box((bx - 0.9, by + 0.2, 0.47), (bx + 0.9, by + 0.25, 0.9), bench))
    for dx in (-0.8, 0.8):
        pieces.append(_box((bx + dx - 0.04, by - 0.22, 0), (bx + dx + 0.04, by + 0.22, 0.42), (0.1, 0.1, 0.1)))
    for _ in range(40):
        x, y = rng.uniform(-60, 60), rng.uniform(-5, 60)
        if abs(x) < 4 and y < 2:
            continue
        h = rng.uniform(5, 11)
        pieces.append(_limb((x, y, 0), (x, y, h * 0.5), 0.22, 0.15, (0.16, 0.11, 0.07), 6))
        crown = (0.12, 0.20, 0.08) if rng.uniform() < 0.6 else (0.16, 0.22, 0.09)
        pieces.append(_sphere((x, y, h * 0.62), h * rng.uniform(0.25, 0.35), _tint(crown, rng, 0.15), squash=1.2))
    for k in range(8):
        x = -120 + 30 * k + rng.uniform(-5, 5)
        pieces.append(
            _box((x, 120, 0), (x + rng.uniform(12, 25), 135, rng.uniform(10, 35)), _tint((0.45, 0.45, 0.45), rng, 0.1))
        )
    blk.add(_merge(pieces, "park"), "set")
    blk.front = -5.0
    blk.tallest = 11.0
    blk.stage = np.array([0.4, -10.6, 0.03])
    blk.anchors = {
        "table": np.array([bx, by, 0.47]),
        "table_size": np.array([1.8, 0.5, 0]),
        "base": np.array([0.0, -5.0, 1.0]),
        "window": np.array([0.0, -5.0, 2.0]),
    }


def _proxy_building(lo_xy, size, height, rng) -> list[Mesh]:
    """A box with dark window bands per storey and light mullions on the front."""
    x0, y0 = lo_xy
    bw, bd = size
    body = _tint((0.52, 0.51, 0.48), rng, 0.12)
    dark = (0.07, 0.075, 0.085)
    out = [_box((x0, y0, 0), (x0 + bw, y0 + bd, height), body)]
    storey = 3.2
    z = 1.0 if height < 9 else 4.0  # ground floor shopfront is its own band
    if height >= 9:
        out.append(_box((x0 - 0.03, y0 - 0.03, 0.4), (x0 + bw + 0.03, y0 + bd + 0.03, 3.2), dark))
    while z + 1.5 < height - 0.5:
        out.append(_box((x0 - 0.03, y0 - 0.03, z), (x0 + bw + 0.03, y0 + bd + 0.03, z + 1.5), dark))
        z += storey
    n = max(2, int(bw // 3.0))
    for k in range(n + 1):
        x = x0 + bw * k / n
        out.append(_box((x - 0.18, y0 - 0.07, 3.4 if height >= 9 else 0.6), (x + 0.18, y0 + 0.01, height - 0.4), body))
    out.append(_box((x0 - 0.1, y0 - 0.1, height), (x0 + bw + 0.1, y0 + bd + 0.1, height + 0.4), body))
    return out


def _vehicle(xy, kind, color) -> list[Mesh]:
    x, y = xy
    length, height = (4.3, 1.45) if kind == "car" else (5.4, 2.3)
    glass = (0.05, 0.06, 0.07)
    out = [_box((x - length / 2, y - 0.9, 0.3), (x + length / 2, y + 0.9, 0.3 + height * 0.5), color)]
    if kind == "car":
        out.append(_box((x - 1.1, y - 0.82, 0.3 + height * 0.5), (x + 0.9, y + 0.82, 0.3 + height), glass))
        out.append(_box((x - 1.0, y - 0.78, 0.3 + height * 0.95), (x + 0.8, y + 0.78, 0.3 + height + 0.02), color))
    else:
        out.append(
            _box((x - length / 2, y - 0.9, 0.3 + height * 0.5), (x + length / 2 - 0.9, y + 0.9, 0.3 + height), color)
        )
        out.append(
            _box(
                (x + length / 2 - 0.9, y - 0.85, 0.3 + height * 0.5),
                (x + length / 2 - 0.2, y + 0.85, 0.3 + height * 0.9),
                glass,
            )
        )
    for dx in (-length / 2 + 0.8, length / 2 - 0.8):
        for dy in (-0.85, 0.85):
            out.append(
                _limb((x + dx, y + dy - 0.12, 0.33), (x + dx, y + dy + 0.12, 0.33), 0.33, 0.33, (0.03, 0.03, 0.03), 8)
            )
    return out


def _tape(w, d, front, rng) -> list[Mesh]:
    tape = (0.62, 0.50, 0.04)
    post = (0.15, 0.15, 0.15)
    x0, x1, y0, y1 = -w / 2 - 2.0, w / 2 + 2.0, front - 2.6, front + d + 2.0
    corners = [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]
    out = []
    for (ax, ay), (bx, by) in zip(corners[:-1], corners[1:]):
        n = max(1, int(math.hypot(bx - ax, by - ay) // 4))
        pts = [(ax + (bx - ax) * k / n, ay + (by - ay) * k / n) for k in range(n + 1)]
        for px, py in pts:
            out.append(_box((px - 0.04, py - 0.04, 0), (px + 0.04, py + 0.04, 1.1), post))
        lo = (min(ax, bx) - 0.02, min(ay, by) - 0.02, 0.95)
        hi = (max(ax, bx) + 0.02, max(ay, by) + 0.02, 1.03)
        out.append(_box(lo, hi, tape))
    return out


def _hero(blk: Blocking, section: BuildingSection, ruins: bool, rng) -> float:
    building = make_building(section)
    w, d = section.footprint
    floors: dict[int, list[Mesh]] = {}
    for _k, e in enumerate(building.elements):
        if e.kind in ("glass", "beam"):  # blocking keeps the windows open; beams are hidden inside
            continue
        color = _tint(building.color, rng, 0.06 if e.kind != "band" else 0.03)
        floors.setdefault(e.floor, []).append(_box(e.lo, e.hi, color))
    hx, hy = w / 2 - section.wall_thickness, d / 2 - section.wall_thickness
    parts = []
    for f in sorted(floors):
        mesh = _merge(floors[f], f"storey_{f}")
        c = mesh.vertices[mesh.faces].mean(axis=1)
        inside = (np.abs(c[:, 0]) < hx) & (np.abs(c[:, 1]) < hy) & (c[:, 2] < building.height - 0.01)
        parts.append(blk.add(mesh, "building", np.where(inside, 0.22, 1.0)))
    heap = _rubble(building, section, rng)
    rubble = blk.add(heap, "building")
    blk.anchors["rubble_front"] = np.array([0.0, heap.vertices[:, 1].min(), 0.0])
    blk.hero = Hero((w, d), building.height, section.storey_height, parts, rubble)
    blk.ruined = ruins
    pier_x = -w / 2 + w / section.bays[0]
    blk.anchors |= {
        "base": np.array([0.0, -d / 2, 2.0]),
        "pier": np.array([pier_x, -d / 2, 1.6]),
        "window": np.array([pier_x + w / section.bays[0] / 2, -d / 2, section.storey_height + 1.9]),
        "upper": np.array([pier_x + w / section.bays[0] / 2, -d / 2, 2 * section.storey_height + 1.9]),
        "middle": np.array([0.0, 0.0, building.height * 0.45]),
        "rubble": np.array([-1.5, 0.0, 2.0]),
    }
    return building.height


def _rubble(building, section: BuildingSection, rng) -> Mesh:
    """A heap where the building stood (it fell left), and the stump of its ground floor."""
    w, d = section.footprint
    color = np.asarray(building.color)
    pieces = []
    radius = max(w, d) * 0.75
    peak = min(6.0, 1.2 + building.height * 0.22)
    for _ in range(260):
        r = radius * math.sqrt(rng.uniform())
        a = rng.uniform(0, 2 * math.pi)
        x, y = -2.0 + r * math.cos(a) * 1.25, r * math.sin(a) * 0.8
        top = peak * max(0.0, 1 - (r / radius) ** 1.4)
        z = rng.uniform(0, top) if top > 0 else 0.0
        size = rng.uniform(0.3, 1.6, size=3) * [1, 1, 0.6]
        pieces.append(_chunk(rng, (x, y, z), size, _tint(color, rng, 0.12)))
    for e in building.elements:
        if e.floor == 0 and e.kind in ("pier", "column") and rng.uniform() < 0.55:
            top = e.lo[2] + rng.uniform(0.6, 2.4)
            pieces.append(_box(e.lo, (e.hi[0], e.hi[1], min(top, e.hi[2])), _tint(color, rng, 0.06)))
    for _ in range(6):  # slabs leaning on the heap
        x, y = rng.uniform(-w / 2, w / 3), rng.uniform(-d / 3, d / 3)
        pieces.append(
            _chunk(
                rng,
                (x, y, rng.uniform(1.0, peak)),
                (rng.uniform(3, 5), rng.uniform(2, 3), 0.3),
                _tint(color, rng, 0.05),
            )
        )
    return _merge(pieces, "rubble")


# --------------------------------------------------------------------------- people, props


def _place_actors(blk: Blocking, cast: list[str]) -> None:
    cast = sorted(cast)  # the same people stand on the same sides in every scene
    n = len(cast)
    stage = blk.stage
    toward_camera = -math.pi / 2  # cameras stand on the -Y side (the 180-degree line is along X)
    spots: list[tuple[np.ndarray, float]] = []
    if n == 1:
        spots = [(stage, toward_camera + math.radians(25))]
    elif n == 2:
        cheat = math.radians(22)
        spots = [(stage + [-0.8, 0, 0], 0.0 - cheat), (stage + [0.8, 0, 0], math.pi + cheat)]
    elif n > 2:
        radius = 0.9 + 0.28 * n
        centre = stage + [0, -0.3 * radius, 0]
        for k in range(n):
            a = math.radians(160 - 140 * k / (n - 1))
            pos = centre + radius * np.array([math.cos(a), math.sin(a), 0.0])
            # face the arc's centre, cheated open towards the camera
            look = centre - [0, 0.6 * radius, 0] - pos
            spots.append((pos, math.atan2(look[1], look[0])))
    used: set[int] = set()
    for name, (pos, yaw) in zip(cast, spots):
        color_index = _seed(name) % len(CHARACTER_COLORS)
        while color_index in used and len(used) < len(CHARACTER_COLORS):
            color_index = (color_index + 1) % len(CHARACTER_COLORS)
        used.add(color_index)
        height = character_height(name)
        mesh = _moved(mannequin(CHARACTER_COLORS[color_index], height), _yaw_matrix(yaw, pos))
        part = blk.add(mesh, f"character:{name}")
        blk.actors[name] = Actor(name, np.asarray(pos, float), yaw, height, part, CHARACTER_COLORS[color_index])


def _place_props(blk: Blocking, scene: SceneBreakdown) -> None:
    from setpiece.previz.shotlist import LARGE_PROPS

    names = [p.name for p in scene.props if p.name not in LARGE_PROPS]
    if not names:
        return
    table, (tw, td, _) = blk.anchors["table"], blk.anchors["table_size"]
    if blk.exterior and "neighbour" in blk.anchors:  # on a street: a crate for the hand props
        crate = (0.40, 0.33, 0.22)
        blk.add(_box(table - [tw / 2, td / 2, 0.8], table + [tw / 2, td / 2, 0], crate), "set")
    spacing = min(0.42, (tw - 0.3) / max(1, len(names)))
    for k, name in enumerate(names):
        mesh, size = prop_mesh(name, PROP_COLORS[k % len(PROP_COLORS)])
        x = table[0] - spacing * (len(names) - 1) / 2 + spacing * k
        where = np.array([x, table[1] + (0.08 if k % 2 else -0.1), table[2]])
        yaw = math.radians((_seed(name) % 50) - 25)
        part = blk.add(_moved(mesh, _yaw_matrix(yaw, where)), f"prop:{name}")
        blk.props[name] = PropPlace(name, where + [0, 0, size[2] / 2], size, part)


# --------------------------------------------------------------------------- vfx proxies


def _fx_anchor(blk: Blocking, lead: str, after_collapse: bool) -> tuple[np.ndarray, float]:
    """Where a beat happens and how big its proxies are (metres)."""
    a = blk.anchors
    if not blk.exterior:
        where = {
            "cracks": a["wall"],
            "glass": a["window"],
            "fire": a["wall"] - [0, 0.3, 1.0],
            "sparks": a["wall"] - [0, 0, 0.6],
            "explosion": a["floor"] + [0, 0, 1.0],
        }
        return where.get(lead, a["ceiling"]).astype(float), 0.6
    ruined = blk.ruined or after_collapse
    if blk.hero is not None and ruined and lead in ("debris", "dust", "smoke", "fire", "shake"):
        return a["rubble"].astype(float), 1.0
    if lead == "glass" and ruined:
        return a["neighbour"].astype(float), 0.6
    table = {
        "collapse": ("base", 3.0),
        "explosion": ("base", 2.0),
        "dust": ("base", 1.5),
        "smoke": ("middle", 2.0),
        "debris": ("base", 1.0),
        "shake": ("base", 0.8),
        "cracks": ("pier", 0.35),
        "sparks": ("pier", 0.4),
        "glass": ("window", 0.6),
        "fire": ("upper", 0.9),
    }
    key, scale = table.get(lead, ("base", 1.0))
    return np.asarray(a.get(key, a.get("base", np.zeros(3))), float), scale


def _place_fx(blk: Blocking, groups, rng) -> None:
    collapse_lines = [line for line, lead, cats in groups if "collapse" in cats]
    if collapse_lines and blk.hero is not None and not blk.ruined:
        blk.collapse_line = min(collapse_lines)
    for line, lead, cats in groups:
        after = blk.collapse_line is not None and line > blk.collapse_line
        anchor, scale = _fx_anchor(blk, lead, after)
        if "explosion" in cats and "smoke" not in cats:
            cats = cats + ("smoke",)  # a fireball rolls up into smoke
        group = FxGroup(line, lead, cats, anchor)
        for cat in cats:
            where, s = anchor, scale
            if cat != lead:
                s = scale * 0.6
                if cat in ("dust", "smoke") and scale < 1.0:
                    where = anchor + [0, 0, scale * 3.0]
                    s = scale * 0.35
                elif cat == "smoke" and lead == "explosion":
                    where = anchor + [0, -0.5, scale * 2.2]
            meshes = _fx_meshes(cat, where, s, blk, rng)
            if meshes:
                group.parts[cat] = blk.add(_merge(meshes, f"fx_{cat}"), f"fx:{cat}")
        blk.fx.append(group)


def _fx_meshes(cat: str, anchor: np.ndarray, s: float, blk: Blocking, rng) -> list[Mesh]:
    out: list[Mesh] = []
    outward = np.array([0.0, -1.0, 0.0])  # facades and the back wall face -Y
    ground = 0.0
    if cat in ("dust", "collapse", "shake"):
        n = 22 if cat == "collapse" else 9
        spread = blk.hero.footprint[0] * 0.8 if cat == "collapse" and blk.hero else 2.5 * s
        for _ in range(n):
            c = anchor + [rng.normal(0, spread * 0.5), rng.normal(-0.3 * spread, spread * 0.35), 0]
            c[2] = max(ground, anchor[2] - s + abs(rng.normal(0, s * 1.2)))
            r = s * rng.uniform(0.5, 1.3)
            out.append(_sphere(c, r, _tint((0.52, 0.49, 0.44), rng, 0.04), fine=True, squash=0.8))
    if cat == "smoke":
        for k in range(10):
            c = anchor + [rng.normal(0, s * 0.5), rng.normal(-0.5, s * 0.4), s * 0.7 * k]
            out.append(
                _sphere(c, s * rng.uniform(0.7, 1.2) * (1 + 0.08 * k), _tint((0.16, 0.16, 0.17), rng, 0.1), fine=True)
            )
    if cat in ("debris", "collapse", "explosion", "shake"):
        n = {"debris": 40, "collapse": 60, "explosion": 30, "shake": 14}[cat]
        height = s * (4.0 if blk.exterior else 3.5)
        for _ in range(n):
            c = anchor + [rng.normal(0, s * 1.4), rng.normal(-s * 0.6, s * 0.8), 0]
            top = height if blk.exterior else max(0.2, anchor[2] - 0.2)
            c[2] = rng.uniform(0.1, top) if blk.exterior else rng.uniform(0.2, top)
            size = s * rng.uniform(0.05, 0.22, size=3) * (1 if blk.exterior else 0.5)
            out.append(
                _chunk(rng, c, size, _tint((0.55, 0.53, 0.50) if not blk.exterior else (0.40, 0.38, 0.35), rng, 0.1))
            )
    if cat == "glass":
        for _ in range(45):
            c = anchor + outward * rng.uniform(0.1, 2.5 * s) + [rng.normal(0, s * 0.8), 0, rng.normal(0, s * 0.5)]
            out.append(
                _chunk(
                    rng,
                    c,
                    (s * rng.uniform(0.05, 0.2), 0.01, s * rng.uniform(0.05, 0.25)),
                    _tint((0.45, 0.62, 0.68), rng, 0.1),
                )
            )
    if cat in ("fire", "explosion"):
        n = 9 if cat == "fire" else 14
        for _ in range(n):
            c = anchor + outward * 0.3 + [rng.normal(0, s * 0.6), 0, abs(rng.normal(0, s * 0.8))]
            r = s * rng.uniform(0.3, 0.7) * (2.2 if cat == "explosion" else 1.0)
            col = (0.95, 0.45, 0.08) if rng.uniform() < 0.6 else (1.0, 0.75, 0.2)
            out.append(_sphere(c, r, col, squash=1.6 if cat == "fire" else 1.0))
    if cat == "sparks":
        for _ in range(40):
            d = outward + [rng.normal(0, 0.6), 0, rng.normal(0.2, 0.5)]
            c = anchor + d * rng.uniform(0.1, 1.5) * s * 2
            out.append(_chunk(rng, c, (0.03, 0.03, s * 0.25), (1.0, 0.8, 0.3)))
    if cat == "cracks":
        p = anchor.copy() + outward * 0.03 - [0, 0, s * 2.0]
        p[2] = max(p[2], 0.1)
        for _ in range(10):
            step = np.array([rng.normal(0, s * 0.3), 0, s * rng.uniform(0.25, 0.5)])
            q = p + step
            out.append(_limb(p, q, 0.025 * max(s, 0.3), 0.02 * max(s, 0.3), (0.03, 0.03, 0.03), 4))
            if rng.uniform() < 0.4:
                branch = q + [rng.normal(0, s * 0.3), 0, rng.normal(0, s * 0.2)]
                out.append(_limb(q, branch, 0.018, 0.012, (0.03, 0.03, 0.03), 4))
            p = q
    return out


# =========================================================================== cameras


@dataclass
class Framing:
    position: np.ndarray
    target: np.ndarray
    focal_length: float
    roll: float = 0.0  # degrees, dutch
    radius: float = 30.0  # of the sun's shadow map around the target

    def camera(self, width: int, height: int) -> Camera:
        d = float(np.linalg.norm(self.target - self.position))
        return Camera(
            tuple(map(float, self.position)),
            tuple(map(float, self.target)),
            float(self.focal_length),
            SENSOR_WIDTH,
            width,
            height,
            near=max(0.03, min(1.0, d * 0.02)),
            far=5000.0,
        )


def _fov(focal: float, aspect: float) -> tuple[float, float]:
    """Half-angle tangents (horizontal, vertical)."""
    tx = SENSOR_WIDTH / 2 / focal
    return tx, tx / aspect


def _direction(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw), math.sin(yaw), 0.0])


def _place_camera(
    target, frame_h, frame_w, look_from, angle, focal, aspect, eye_z=None, depth=0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Camera position framing a region of frame_h x frame_w metres at target, seen
    from the horizontal direction look_from (unit, from the target towards the camera)."""
    tx, ty = _fov(focal, aspect)
    d = max(frame_h / 2 / ty, frame_w / 2 / tx) + depth
    target = np.asarray(target, float)
    h = np.asarray(look_from, float)
    h = h / np.linalg.norm(h)
    if angle in ELEVATION:
        el = math.radians(ELEVATION[angle])
        pos = target + d * (h * math.cos(el) + np.array([0, 0, math.sin(el)]))
        if angle == "overhead":
            target = target.copy()
        return pos, target
    pos = target + h * d
    if angle == "low":
        pos[2] = max(0.45, min(target[2] - d * math.tan(math.radians(LOW_ANGLE)), 1.2))
        if pos[2] >= target[2]:  # the subject is on the floor: look up at it anyway
            pos[2] = 0.25
            target = target + [0, 0, 0.4]
    else:
        pos[2] = target[2] if eye_z is None else eye_z
    return pos, target


def frame_shot(shot: Shot, blk: Blocking, width: int, height: int) -> Framing:
    """The camera for one shot: its size, angle and lens applied to the blocking."""
    aspect = width / height
    focal = float(min(max(shot.lens_mm, 8.0), 300.0))
    size = shot.size if shot.size in PLACE_FRAME else "MS"
    angle = shot.angle if shot.angle in ("eye level", "low", "high", "overhead", "dutch") else "eye level"
    roll = DUTCH_ROLL if angle == "dutch" else 0.0
    cam_angle = "eye level" if angle == "dutch" else angle
    actors = [blk.actors[c.upper()] for c in shot.characters if c.upper() in blk.actors]
    subject = blk.actors.get(shot.subject.upper())
    front = np.array([0.0, -1.0, 0.0])

    if shot.kind == "ots" and subject is not None:
        other = next((a for a in actors if a is not subject), None)
        if other is not None:
            return _clamped(_ots(subject, other, size, cam_angle, focal, aspect, roll), blk)
    if shot.kind == "insert" or (shot.subject in blk.props and shot.kind != "vfx"):
        prop = blk.props.get(shot.subject) or next(iter(blk.props.values()), None)
        if prop is not None:
            look = _rotate(front, math.radians(-20))
            frame = max(max(prop.size) * PROP_FRAME[size], PROP_FRAME_MIN[size])
            pos, tgt = _place_camera(
                prop.center,
                frame,
                frame * aspect,
                look,
                "high" if cam_angle == "eye level" else cam_angle,
                focal,
                aspect,
            )
            return _unblocked(_clamped(Framing(pos, tgt, focal, roll, max(6.0, frame * 4)), blk), blk)
    if shot.kind == "vfx":
        fr = _vfx_framing(shot, blk, size, cam_angle, focal, aspect, roll)
        return _unblocked(fr, blk, keep=_named(shot, blk))
    if shot.kind in ("single", "ots") and (subject or actors):
        who = subject or actors[0]
        return _unblocked(_single(who, blk, size, cam_angle, focal, aspect, roll), blk, keep=[who])
    if shot.kind in ("master", "single") and (actors or (blk.actors and shot.kind == "master")):
        group = actors or list(blk.actors.values())
        if size == "EWS":
            return _environment(blk, size, cam_angle, focal, aspect, roll, establishing=False)
        return _group(group, blk, size, cam_angle, focal, aspect, roll)
    return _environment(blk, size, cam_angle, focal, aspect, roll, establishing=shot.kind == "establishing")


def _blocked_by(pos: np.ndarray, target: np.ndarray, blk: Blocking, keep=()) -> list[Actor]:
    """People (other than keep) standing between the camera and what it looks at."""
    samples = pos + (target - pos) * np.linspace(0.02, 0.85, 32)[:, None]  # near the target
    out = []  # end the subject's neighbours may share the frame
    for actor in blk.actors.values():
        if any(actor is k for k in keep):
            continue
        near = np.hypot(*(samples[:, :2] - actor.position[:2]).T) < 0.32
        within = (samples[:, 2] >= 0) & (samples[:, 2] <= actor.height + 0.05)
        if (near & within).any():
            out.append(actor)
    return out


def _unblocked(fr: Framing, blk: Blocking, keep=()) -> Framing:
    """Swing the camera round the target (same distance and height) until nobody
    stands in the way; the first clear angle wins, else the original."""
    if not _blocked_by(fr.position, fr.target, blk, keep):
        return fr
    offset = fr.position - fr.target
    for degrees in (-20, 20, -40, 40, -60, 60, -85, 85):
        turned = fr.target + _rotate(offset, math.radians(degrees)) + [0, 0, offset[2]]
        trial = _clamped(Framing(turned, fr.target, fr.focal_length, fr.roll, fr.radius), blk)
        if not _blocked_by(trial.position, trial.target, blk, keep):
            return trial
    return fr


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], 0.0])


def _camera_side(v: np.ndarray, a: float) -> np.ndarray:
    """v turned by a towards the camera side (-Y) of the line of action."""
    left, right = _rotate(v, a), _rotate(v, -a)
    return left if left[1] < right[1] else right


def _body_frame(actor: Actor, size: str) -> tuple[np.ndarray, float]:
    bottom, top = BODY_FRAME[size]
    return actor.at((bottom + top) / 2), actor.height * (top - bottom)


def _single(who: Actor, blk, size, angle, focal, aspect, roll) -> Framing:
    look = _camera_side(who.facing, math.radians(28))
    if size == "EWS":
        return _group([who], blk, size, angle, focal, aspect, roll)
    target, frame_h = _body_frame(who, size)
    if size != "WS":
        target = target + who.facing * 0.05  # the face, not the back of the head
    pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=who.eye[2])
    return _clamped(Framing(pos, tgt, focal, roll, max(8.0, frame_h * 5)), blk)


def _group(group: list[Actor], blk, size, angle, focal, aspect, roll) -> Framing:
    points = np.array([a.position for a in group])
    centre = points.mean(axis=0)
    look = np.array([-0.2, -1.0, 0.0])
    look /= np.linalg.norm(look)
    right = np.array([-look[1], look[0], 0.0])
    across = np.ptp(points @ right) + 1.0
    depth = np.ptp(points @ look)
    tallest = max(a.height for a in group)
    if size == "EWS":
        frame_h = tallest * EWS_BODIES
        target = centre + [0, 0, frame_h * 0.35]
    else:
        b, t = BODY_FRAME.get(size, BODY_FRAME["WS"])
        frame_h = tallest * (t - b)
        target = centre + [0, 0, tallest * (b + t) / 2]
    eye = np.mean([a.eye[2] for a in group])
    pos, tgt = _place_camera(target, frame_h, across, look, angle, focal, aspect, eye_z=eye, depth=depth / 2)
    return _clamped(Framing(pos, tgt, focal, roll, max(10.0, frame_h * 4)), blk)


def _ots(subject: Actor, other: Actor, size, angle, focal, aspect, roll) -> Framing:
    """Behind the other's shoulder (camera side of the line), onto the subject."""
    axis = other.position - subject.position
    apart = float(np.linalg.norm(axis[:2]))
    u = axis / max(apart, 1e-6)
    side = np.array([-u[1], u[0], 0.0])
    if side[1] > 0:
        side = -side
    target, frame_h = _body_frame(subject, size if size != "WS" else "MS")
    ty = _fov(focal, aspect)[1]
    d = max(frame_h / 2 / ty, apart + 0.9)
    offset = max(0.35, min(0.75, 0.32 * d))
    pos = subject.position + u * d + side * offset
    pos[2] = {"low": other.at(0.62), "high": other.at(1.12), "overhead": other.at(1.3)}.get(angle, other.at(0.89))[2]
    # shift the aim so the subject sits on the third away from the shoulder
    aim = target.copy()
    aim -= side * (frame_h * aspect * 0.12)
    return Framing(pos, aim, focal, roll, 10.0)


def _vfx_framing(shot, blk: Blocking, size, angle, focal, aspect, roll) -> Framing:
    group = _fx_group(shot, blk)
    lead = group.lead if group else shot_categories(shot)[0]
    anchor = group.anchor if group else blk.anchors.get("base", blk.stage)
    state = _hero_state(shot, blk)
    look = _rotate(np.array([0.0, -1.0, 0.0]), math.radians(-14))  # from the front, a little left
    if not blk.exterior:
        frame_h = ROOM_FRAME[size]
        if lead in ("debris", "dust", "shake", "smoke", "collapse", "explosion"):
            # the room with the people in it, under what is falling
            target = blk.stage + [0, 0, min(1.5, frame_h * 0.5 + 0.1)]
            if blk.actors:
                target[:2] = np.mean([a.position[:2] for a in blk.actors.values()], axis=0)
        else:
            target = anchor - [0, 0.1, 0]
        pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=1.6)
        return _clamped(Framing(pos, tgt, focal, roll, 10.0), blk)
    hero = blk.hero
    if hero is not None and state != "ruins" and lead in ("collapse", "explosion", "dust", "smoke"):
        lean = 1.15 if state == "collapsing" else 1.0
        if size in ("EWS", "WS"):
            frame_h = hero.height * (1.5 if size == "EWS" else 1.12) * lean
            target = np.array([-hero.footprint[0] * 0.1 * (lean - 1) * 6, 0.0, frame_h * 0.42])
            pos, tgt = _place_camera(
                target,
                frame_h,
                hero.footprint[0] * 1.6,
                look,
                angle,
                focal,
                aspect,
                eye_z=1.7,
                depth=hero.footprint[1] / 2,
            )
            return _clamped(Framing(pos, tgt, focal, roll, hero.height * 1.6), blk)
    if (
        hero is not None
        and state == "ruins"
        and (size in ("EWS", "WS") or lead in ("debris", "dust", "smoke", "shake", "fire"))
    ):
        # the heap's near edge, where the people are, rather than the middle of it
        frame_h = PLACE_FRAME[size] * (0.6 if size in ("EWS", "WS") else 1.0)
        edge = blk.anchors["rubble_front"][1]
        target = np.array([(blk.stage[0] + blk.anchors["rubble"][0]) / 2, edge + 2.5, frame_h * 0.4])
        named = _named(shot, blk)
        if named:  # "Maya stands at the edge of the rubble": her, and the heap behind her
            where = np.mean([a.position for a in named], axis=0)
            target = np.array([where[0], (where[1] + edge) / 2 + 1.0, frame_h * 0.4])
        pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=1.7)
        return _clamped(Framing(pos, tgt, focal, roll, 40.0), blk)
    frame_h = PLACE_FRAME[size]
    if lead in SMALL_FX and size in ("MS", "MCU"):
        frame_h *= 0.6  # a medium shot of sparks or a crack is still about the sparks
    target = np.asarray(anchor, float).copy()
    if lead in ("collapse", "explosion", "debris", "dust", "shake", "smoke") or frame_h > 3:
        target[2] = max(target[2], frame_h * 0.4)
    target[1] -= 0.2
    pos, tgt = _place_camera(target, frame_h, 0.0, look, angle, focal, aspect, eye_z=target[2])
    return _clamped(Framing(pos, tgt, focal, roll, max(10.0, frame_h * 3)), blk)


def _named(shot: Shot, blk: Blocking) -> list[Actor]:
    """People the shot's description names."""
    return [a for name, a in blk.actors.items() if re.search(rf"\b{re.escape(name)}\b", shot.description, re.I)]


def _environment(blk: Blocking, size, angle, focal, aspect, roll, establishing: bool) -> Framing:
    if not blk.exterior:
        x0, x1, y0, y1, h = blk.room
        # establishing: from the front corner, above head height; otherwise straight on
        look = _rotate(np.array([0.0, -1.0, 0.0]), math.radians(-28 if establishing else -12))
        target = np.array([0.3, (blk.stage[1] + y1) / 2, 1.3])
        frame_w = (x1 - x0) * (0.95 if size in ("EWS", "WS") else 0.6)
        pos, tgt = _place_camera(target, 0.0, frame_w, look, angle, focal, aspect, eye_z=2.3 if establishing else 1.6)
        return _clamped(Framing(pos, tgt, focal, roll, 12.0), blk)
    hero_h = blk.hero.height if blk.hero else 16.0
    look = _rotate(np.array([0.0, -1.0, 0.0]), math.radians(-32))
    # the building and the people in front of it
    target = np.array([0.0, blk.front * 0.6 + blk.stage[1] * 0.4, hero_h * 0.38])
    frame_h = hero_h * (1.3 if size == "EWS" else 1.1)
    if not establishing and size not in ("EWS", "WS"):
        frame_h = PLACE_FRAME[size]
        target = blk.stage + [0, 0, frame_h * 0.45]
    pos, tgt = _place_camera(
        target,
        frame_h,
        0.0,
        look,
        "high" if establishing and angle == "high" else angle,
        focal,
        aspect,
        eye_z=1.7,
        depth=8.0,
    )
    return _clamped(Framing(pos, tgt, focal, roll, max(30.0, hero_h * 1.8)), blk)


def _clamped(fr: Framing, blk: Blocking) -> Framing:
    """Keep the camera on the set: inside the room, out of the buildings, above ground."""
    pos = fr.position.copy()
    if blk.room is not None:
        x0, x1, y0, y1, h = blk.room
        pos[0] = min(max(pos[0], x0 + 0.25), x1 - 0.25)
        pos[1] = min(max(pos[1], y0 + 0.3), y1 - 0.25)
    elif pos[2] < blk.tallest + 2:
        pos[1] = min(pos[1], blk.front - 0.6)
        if blk.hero is not None and "rubble_front" in blk.anchors and pos[2] < 8:
            pos[1] = min(pos[1], blk.anchors["rubble_front"][1] - 1.5)
    pos[2] = max(pos[2], 0.2)
    if np.linalg.norm(pos - fr.target) < 0.2:
        pos = pos - np.array([0, 0.3, 0])
    return Framing(pos, fr.target, fr.focal_length, fr.roll, fr.radius)


# =========================================================================== poses


def _fx_group(shot: Shot, blk: Blocking) -> FxGroup | None:
    cats = shot_categories(shot)
    exact = [g for g in blk.fx if g.line == shot.line and g.lead == cats[0]]
    if exact:
        return exact[0]
    same = [g for g in blk.fx if g.lead == cats[0]]
    return same[0] if same else None


def _hero_state(shot: Shot, blk: Blocking) -> str:
    if blk.hero is None:
        return ""
    if blk.ruined:
        return "ruins"
    if blk.collapse_line is None:
        return "intact"
    if shot.kind == "vfx" and "collapse" in shot_categories(shot):
        return "collapsing"
    return "ruins" if shot.line > blk.collapse_line else "intact"


HIDDEN = np.diag([0.0, 0.0, 0.0, 1.0])  # collapses a part to a point: nothing is drawn


def shot_pose(shot: Shot, blk: Blocking) -> np.ndarray:
    """Per-part transforms for one shot: the hero's state, this beat's VFX proxies only."""
    xf = np.repeat(np.eye(4)[None], len(blk.parts), axis=0)
    visible = set()
    if shot.kind == "vfx" and (group := _fx_group(shot, blk)) is not None:
        visible = set(group.parts.values())
    for group in blk.fx:
        for part in group.parts.values():
            if part not in visible:
                xf[part] = HIDDEN
    if shot.kind == "vfx" and shot.size in ("MCU", "CU", "ECU"):
        for part in blk.parts_labelled("set:tape"):  # the camera is inside the cordon
            xf[part] = HIDDEN
    hero = blk.hero
    state = _hero_state(shot, blk)
    if hero is not None:
        if state == "ruins":
            for p in hero.floors:
                xf[p] = HIDDEN
        else:
            xf[hero.rubble] = HIDDEN
        if state == "collapsing":
            _collapse_pose(xf, hero)
    return xf


def _collapse_pose(xf: np.ndarray, hero: Hero) -> None:
    """Mid-collapse: the ground storey crushed, the rest leaning left and dropping."""
    w = hero.footprint[0]
    pivot = np.array([-w / 2, 0.0, hero.storey * 0.35])
    for k, part in enumerate(hero.floors):
        if k == 0:
            m = np.diag([1.0, 1.0, 0.35, 1.0])
            xf[part] = m
            continue
        angle = -math.radians(9 + 2.2 * k)
        c, s = math.cos(angle), math.sin(angle)
        rot = np.eye(4)
        rot[[0, 0, 2, 2], [0, 2, 0, 2]] = [c, s, -s, c]
        drop = np.eye(4)
        drop[:3, 3] = [0.0, 0.0, -hero.storey * 0.65 + 0.12 * k]
        to, back = np.eye(4), np.eye(4)
        to[:3, 3], back[:3, 3] = -pivot, pivot
        xf[part] = drop @ back @ rot @ to


# =========================================================================== drawing


@dataclass
class Board:
    """One drawn board and what it was drawn from (for tests and tools)."""

    image: Image.Image
    camera: Camera  # at the board's size, before any dutch roll
    passes: Passes  # at the board's size (AOVs point-sampled); part ids index blocking.parts
    blocking: Blocking
    roll: float = 0.0  # degrees the image is turned (dutch angle), counter-clockwise

    def coverage(self, label: str) -> float:
        """Share of the frame covered by parts whose label starts with ``label``."""
        ids = self.blocking.parts_labelled(label)
        return float(np.isin(self.passes.part, ids).mean()) if ids else 0.0


class StoryboardRenderer:
    """A BoardRenderer (``renderer(shot, scene, width, height) -> PIL image``) that
    draws 3D blocking with the preview renderer. Give it every scene and shot up
    front to share one GL context; call close() (or use ``with``) when done."""

    def __init__(
        self,
        scenes: list[SceneBreakdown] = (),
        shots: list[Shot] = (),
        label: bool = True,
        batch_triangles: int = BATCH_TRIANGLES,
    ):
        self.label = label
        self.batch_triangles = batch_triangles
        self._shots = {}
        for shot in shots:
            self._shots.setdefault(shot.scene, []).append(shot)
        self._notes = _location_notes(scenes)
        self._blockings: dict[str, Blocking] = {}
        self._batches: list[list[str]] = []
        self._batch_of: dict[str, int] = {}
        self._active: tuple[int, object, dict[str, int]] | None = None
        if scenes:
            self._plan(scenes)

    # ------------------------------------------------------------------ blocking

    def _plan(self, scenes: list[SceneBreakdown]) -> None:
        batch, tris = [], 0
        for scene in scenes:
            blk = self._block(scene, self._shots.get(scene.number, []))
            if batch and tris + blk.triangles > self.batch_triangles:
                self._batches.append(batch)
                batch, tris = [], 0
            batch.append(scene.number)
            tris += blk.triangles
        if batch:
            self._batches.append(batch)
        self._batch_of = {n: k for k, b in enumerate(self._batches) for n in b}

    def _block(self, scene: SceneBreakdown, shots: list[Shot]) -> Blocking:
        blk = block_scene(scene, shots, self._notes.get(_base_location(scene), ""))
        self._blockings[scene.number] = blk
        return blk

    def blocking(self, shot: Shot, scene: SceneBreakdown) -> Blocking:
        """The scene's blocking, rebuilt (alone in its batch) if this shot needs a
        character or a VFX beat it lacks (a shot list edited after planning)."""
        blk = self._blockings.get(scene.number)
        known = self._shots.setdefault(scene.number, [])
        missing = blk is None or any(c.strip().upper() not in blk.actors for c in shot.characters)
        if (
            blk is not None
            and shot.kind == "vfx"
            and not any(g.line == shot.line and g.lead == shot_categories(shot)[0] for g in blk.fx)
        ):
            missing = True
        if missing:
            if shot not in known:
                known.append(shot)
            blk = self._block(scene, known)
            self._batches.append([scene.number])
            self._batch_of[scene.number] = len(self._batches) - 1
        return blk

    # ------------------------------------------------------------------ GL

    def _renderer(self, scene_number: str):
        from setpiece.render.raster import PreviewRenderer

        index = self._batch_of[scene_number]
        if self._active is not None and self._active[0] == index:
            return self._active[1], self._active[2][scene_number]
        self.close()
        parts, exposure, offsets = [], [], {}
        for number in self._batches[index]:
            blk = self._blockings[number]
            offsets[number] = len(parts)
            parts += blk.parts
            exposure += blk.exposure
        renderer = PreviewRenderer(parts, exposure, ground_color=GROUND, ground_size=3000.0, supersample=1)
        self._active = (index, renderer, offsets)
        return renderer, offsets[scene_number]

    def close(self) -> None:
        if self._active is not None:
            self._active[1].release()
            self._active = None

    def __enter__(self) -> StoryboardRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ boards

    def __call__(self, shot: Shot, scene: SceneBreakdown, width: int, height: int) -> Image.Image:
        return self.board(shot, scene, width, height).image

    def board(self, shot: Shot, scene: SceneBreakdown, width: int, height: int) -> Board:
        blk = self.blocking(shot, scene)
        if scene.number not in self._batch_of:
            self._batches.append([scene.number])
            self._batch_of[scene.number] = len(self._batches) - 1
        renderer, offset = self._renderer(scene.number)
        framing = frame_shot(shot, blk, width, height)
        ss = SUPERSAMPLE if width * height <= SUPERSAMPLE_MAX_PIXELS else 1
        grow = 1.0
        if framing.roll:
            r = math.radians(abs(framing.roll))
            grow = math.cos(r) + max(width / height, height / width) * math.sin(r)
        big_w, big_h = int(math.ceil(width * ss * grow)), int(math.ceil(height * ss * grow))
        big_w, big_h = big_w + (big_w - width * ss) % 2, big_h + (big_h - height * ss) % 2
        cam = framing.camera(big_w, big_h)
        cam = Camera(
            cam.position,
            cam.target,
            cam.focal_length,
            SENSOR_WIDTH * big_w / (width * ss),
            big_w,
            big_h,
            cam.near,
            cam.far,
        )
        xf = np.repeat(np.broadcast_to(HIDDEN, (4, 4))[None], renderer.n_parts, axis=0).copy()
        xf[offset : offset + len(blk.parts)] = shot_pose(shot, blk)
        sun, sun_rgb, sky_rgb, exposure = _light(blk)
        ctx = getattr(renderer, "ctx", None)
        if ctx is not None:  # another renderer's GL context may be current: use ours
            with ctx:
                passes = renderer.render(cam, xf, sun, sun_rgb, sky_rgb, framing.radius)
        else:
            passes = renderer.render(cam, xf, sun, sun_rgb, sky_rgb, framing.radius)
        part = np.where(passes.part >= 0, passes.part - offset, passes.part)
        part = np.where((passes.part >= 0) & ((part < 0) | (part >= len(blk.parts))), -1, part)
        passes.part = part
        rgb = _draw(passes, blk, sky_rgb, exposure)
        image = Image.fromarray(rgb)
        if framing.roll:
            image = image.rotate(framing.roll, resample=Image.BICUBIC)
            passes = _rotate_passes(passes, framing.roll)
            left, top = (big_w - width * ss) // 2, (big_h - height * ss) // 2
            box = (left, top, left + width * ss, top + height * ss)
            image = image.crop(box)
            passes = _crop_passes(passes, box)
        image = image.reduce(ss) if ss > 1 else image
        small = _point_sampled(passes, ss)
        board_cam = framing.camera(width, height)
        if self.label:
            _label(image, shot, blk, small, board_cam)
        return Board(image, board_cam, small, blk, framing.roll)


def storyboard(shot: Shot, scene: SceneBreakdown, width: int = 640, height: int = 360) -> Image.Image:
    """One board on its own (a context per call; use StoryboardRenderer for many)."""
    with StoryboardRenderer([scene], [shot]) as renderer:
        return renderer(shot, scene, width, height)


def _location_notes(scenes: list[SceneBreakdown]) -> dict[str, str]:
    """All the text each location has across the script (storeys, material)."""
    notes: dict[str, list[str]] = {}
    for scene in scenes:
        notes.setdefault(_base_location(scene), []).append(_scene_text(scene))
    return {k: " ".join(v) for k, v in notes.items()}


def _light(blk: Blocking):
    """Sun direction, sun and sky colour, exposure for the scene's time of day."""
    elevation, sun_rgb, sky_rgb, key = LIGHT.get(blk.lighting, LIGHT["day"])
    if not blk.exterior:
        elevation = max(elevation, INT_SUN_ELEVATION)
    sun = sun_direction(elevation, SUN_AZIMUTH if blk.exterior else SUN_AZIMUTH + 10)
    luma = np.array([0.2126, 0.7152, 0.0722])
    ground = luma @ sun_rgb * math.sin(math.radians(elevation)) + luma @ sky_rgb
    day = LIGHT["day"]
    day_ground = luma @ day[1] * math.sin(math.radians(day[0])) + luma @ day[2]
    exposure = GREY_CARD / day_ground * key * (day_ground / ground) ** (0.2 if key > 0.5 else 0.6)
    # irradiance: the preview shader applies Lambert's 1/pi to the sun, as the path tracer does
    return sun, np.asarray(sun_rgb) * math.pi, np.asarray(sky_rgb), exposure


_SRGB_LUT = np.where(
    np.linspace(0, 1, 4096) <= 0.0031308,
    12.92 * np.linspace(0, 1, 4096),
    1.055 * np.linspace(0, 1, 4096) ** (1 / 2.4) - 0.055,
).astype(np.float32)


def _tonemap(linear: np.ndarray, exposure: float) -> np.ndarray:
    """A filmic curve (Narkowicz's ACES fit) and the sRGB encoding: the board look.

    Kept here rather than taken from setpiece.color (the comp's OCIO pipeline), so
    boards stay one fixed, cheap look whatever a shot's colour settings are."""
    x = np.maximum(linear * np.float32(exposure), 0.0)
    x = np.clip((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)
    return _SRGB_LUT[(x * 4095 + 0.5).astype(np.int32)]


def _sky(h: int, w: int, horizon, zenith) -> np.ndarray:
    t = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None, None] ** 0.7
    ramp = np.asarray(horizon, np.float32) * (1 - t) + np.asarray(zenith, np.float32) * t
    return np.broadcast_to(ramp, (h, w, 3))


SOFT_FX = ("fx:dust", "fx:smoke", "fx:fire", "fx:explosion")  # a faint silhouette, no inner lines


def _draw(passes: Passes, blk: Blocking, sky_rgb: np.ndarray, exposure: float) -> np.ndarray:
    """Beauty over a sky ramp, glow for fire, haze with distance, pencil outlines."""
    h, w = passes.alpha.shape
    f32 = np.float32
    beauty = np.array(passes.beauty, f32)
    alpha = np.asarray(passes.alpha, f32)[..., None]
    for group in blk.fx:
        for cat, part in group.parts.items():
            if cat in GLOW:
                mask = passes.part == part
                if mask.any():
                    col = beauty[mask]
                    lum = col.mean(axis=1, keepdims=True)
                    shade = f32(0.45) + lum / max(float(lum.max()), 1e-6)  # keep the facets' modelling
                    beauty[mask] = np.asarray(GLOW[cat], f32) * shade / f32(max(exposure, 0.1) / 0.6)
    sky_rgb = np.asarray(sky_rgb, f32)
    horizon = sky_rgb * f32(1.7) + f32(0.04)
    if blk.exterior:
        depth = np.minimum(np.asarray(passes.depth, f32), f32(1e4))
        haze = (1 - np.exp(depth * f32(-1 / 420.0)))[..., None]
        beauty += (horizon * alpha - beauty) * haze
    image = beauty + (1 - alpha) * _sky(h, w, horizon, sky_rgb * f32(0.9))
    display = _tonemap(image, exposure)
    grey = display @ np.array([0.2126, 0.7152, 0.0722], f32)
    soft = np.array([k for label in SOFT_FX for k in blk.parts_labelled(label)], np.int32)
    ink = _outlines(passes, soft)
    keep = (1 - f32(0.62) * ink)[..., None]
    glowing = [p for g in blk.fx for c, p in g.parts.items() if c in GLOW]
    desat = np.where(np.isin(passes.part, glowing), f32(0.0), f32(0.28))[..., None] if glowing else f32(0.28)
    display = (display * (1 - desat) + grey[..., None] * desat) * keep
    return (np.clip(display, 0, 1) * 255 + 0.5).astype(np.uint8)


def _outlines(passes: Passes, soft: np.ndarray = np.zeros(0, np.int32)) -> np.ndarray:
    """Ink (0..1) on silhouettes (part id), folds (normals) and depth steps, 2 px wide;
    soft parts (dust, smoke) get only a faint silhouette."""
    part = passes.part
    depth = np.asarray(passes.depth, np.float32)
    normal = np.asarray(passes.normal, np.float32)
    inv = np.where(np.isfinite(depth), 1.0 / np.maximum(depth, 1e-3), 0.0).astype(np.float32)
    is_soft = np.isin(part, soft) if len(soft) else np.zeros(part.shape, bool)
    hard = np.zeros(part.shape, bool)
    faint = np.zeros(part.shape, bool)
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        step = part[a] != part[b]
        solid = (part[a] != -1) & (part[b] != -1) & ~is_soft[a] & ~is_soft[b]
        fold = solid & (np.einsum("ijk,ijk->ij", normal[a], normal[b]) < 0.82)
        jump = solid & (np.abs(inv[a] - inv[b]) > 0.04 * np.maximum(inv[a], inv[b]) + 1e-4)
        cloud = step & (is_soft[a] | is_soft[b])
        e = (step & ~cloud) | fold | jump
        hard[a] |= e
        hard[b] |= e
        faint[a] |= cloud
        faint[b] |= cloud
    return np.where(hard, 1.0, np.where(faint, 0.3, 0.0)).astype(np.float32)


def _map_passes(passes: Passes, fn) -> Passes:
    """Apply fn to every pass (whatever passes the renderer returns)."""
    return Passes(**{f.name: fn(getattr(passes, f.name)) for f in fields(Passes)})


def _point_sampled(passes: Passes, s: int) -> Passes:
    return _map_passes(passes, lambda a: a[::s, ::s])


def _rotate_passes(passes: Passes, degrees: float) -> Passes:
    """Nearest-neighbour rotation of the passes, as the image was turned."""
    h, w = passes.part.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    a = math.radians(degrees)
    # PIL rotates counter-clockwise: the source of (x, y) is turned back by the angle
    sx = np.cos(a) * (xx - cx) - np.sin(a) * (yy - cy) + cx
    sy = np.sin(a) * (xx - cx) + np.cos(a) * (yy - cy) + cy
    sx, sy = np.clip(np.rint(sx), 0, w - 1).astype(int), np.clip(np.rint(sy), 0, h - 1).astype(int)
    return _map_passes(passes, lambda a: a[sy, sx])


def _crop_passes(passes: Passes, box) -> Passes:
    x0, y0, x1, y1 = box
    return _map_passes(passes, lambda a: a[y0:y1, x0:x1])


def _label(image: Image.Image, shot: Shot, blk: Blocking, passes: Passes, camera: Camera) -> None:
    """A small corner tag (shot, lens, angle) and name tags on people too small to tell."""
    w, h = image.size
    draw = ImageDraw.Draw(image, "RGBA")
    size = max(7, h // 30)
    font = _font(size)
    pad = max(2, size // 3)
    angle = "" if shot.angle == "eye level" else f"  {shot.angle}"
    text = _fit(f"{shot.number}  {shot.lens_mm:g}mm{angle}", font, w // 2)
    box = draw.textbbox((pad * 2, pad * 2), text, font=font)
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(0, 0, 0, 150))
    draw.text((pad * 2, pad * 2), text, font=font, fill=(255, 255, 255, 235))
    if h < 120 or not (shot.size in ("EWS", "WS") or shot.kind in ("master", "establishing")):
        return  # close shots: the caption names who is in them
    tags = []  # [x, top y, names] of everyone in a wide shot
    for name, actor in sorted(blk.actors.items(), key=lambda kv: kv[1].position[0]):
        ys, xs = np.nonzero(passes.part == actor.part)
        if len(ys) < 6:
            continue
        tags.append([float(xs.mean()), float(ys.min()) - pad, [name.title()]])
    merged: list[list] = []
    for tag in tags:  # neighbours whose tags would overlap share one
        if merged:
            last = merged[-1]
            width = draw.textlength(", ".join(last[2] + tag[2]), font=font)
            if tag[0] - last[0] < width / 2 + pad * 4:
                n = len(last[2])
                last[0] = (last[0] * n + tag[0]) / (n + 1)
                last[1] = min(last[1], tag[1])
                last[2] += tag[2]
                continue
        merged.append(tag)
    for x, y, names in merged:
        text = _fit(" & ".join(names), font, w - 4 * pad)
        tw = draw.textlength(text, font=font)
        x = min(max(x, tw / 2 + pad), w - tw / 2 - pad)
        y = max(y, size + pad * 2)
        tb = draw.textbbox((x, y), text, font=font, anchor="mb")
        draw.rectangle((tb[0] - pad, tb[1] - 1, tb[2] + pad, tb[3] + 1), fill=(255, 255, 255, 170))
        draw.text((x, y), text, font=font, fill=(20, 20, 20, 255), anchor="mb")
