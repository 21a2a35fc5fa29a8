"""Sets: the room of an INT scene, the street (with the setpiece building as
hero, intact or as rubble) or the park of an EXT scene.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from setpiece.geometry import Mesh
from setpiece.previz.boards.shapes import box, chunk, limb, merge, sphere, tint
from setpiece.spec import BuildingSection
from setpiece.world.building import make_building

if TYPE_CHECKING:
    from setpiece.previz.boards.blocking import Blocking
    from setpiece.previz.breakdown import SceneBreakdown

_WORD_NUMBERS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_STOREYS = re.compile(r"\b(\d{1,2}|[a-z]+)[- ]stor(?:e)?(?:y|ies|eys)\b", re.I)


@dataclass
class Hero:
    """The setpiece building in an exterior scene."""

    footprint: tuple[float, float]
    height: float
    storey: float
    floors: list[int]  # part per storey (intact / collapsing)
    rubble: int  # part: heap and stump (after the collapse)
    exposure_inside: float = 0.25


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


# --------------------------------------------------------------------------- interiors

ROOM_X = 4.5  # half width
ROOM_BACK = 3.5
ROOM_FRONT = -9.0  # side walls and floor run on, so a camera backing out stays on the set
ROOM_H = 3.0
WALL = 0.2


def build_room(blk: Blocking, scene: SceneBreakdown, rng) -> None:
    wall = tint((0.50, 0.49, 0.46), rng, 0.05)
    floor_c = tint((0.33, 0.30, 0.27), rng, 0.06)
    x0, x1, y0, y1, h = -ROOM_X, ROOM_X, ROOM_FRONT, ROOM_BACK, ROOM_H
    pieces = [box((x0 - WALL, y0, -0.05), (x1 + WALL, y1 + WALL, 0.0), floor_c)]
    # back wall with a window (x 0.9..2.7, z 0.9..2.2)
    wx0, wx1, wz0, wz1 = 0.9, 2.7, 0.9, 2.2
    back = [((x0, wx0), (0, h)), ((wx1, x1), (0, h)), ((wx0, wx1), (0, wz0)), ((wx0, wx1), (wz1, h))]
    for (a, b), (za, zb) in back:
        pieces.append(box((a, y1, za), (b, y1 + WALL, zb), wall))
    sill = (0.35, 0.33, 0.30)
    pieces.append(box((wx0 - 0.05, y1 - 0.12, wz0 - 0.06), (wx1 + 0.05, y1 + WALL, wz0), sill))
    pieces.append(box(((wx0 + wx1) / 2 - 0.03, y1 + 0.05, wz0), ((wx0 + wx1) / 2 + 0.03, y1 + 0.12, wz1), sill))
    # left wall with a door gap (y 0.3..1.3, up to 2.1), right wall whole
    dy0, dy1, dz = 0.3, 1.3, 2.1
    pieces.append(box((x0 - WALL, y0, 0), (x0, dy0, h), wall))
    pieces.append(box((x0 - WALL, dy1, 0), (x0, y1 + WALL, h), wall))
    pieces.append(box((x0 - WALL, dy0, dz), (x0, dy1, h), wall))
    pieces.append(box((x1, y0, 0), (x1 + WALL, y1 + WALL, h), wall))
    # skirting, so the floor line reads
    skirt = (0.22, 0.21, 0.20)
    pieces.append(box((x0, y1 - 0.02, 0), (x1, y1, 0.1), skirt))
    pieces.append(box((x1 - 0.02, y0, 0), (x1, y1, 0.1), skirt))
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
                box(
                    (x1 - 2.0, -2.6 + k * 0.32, 0),
                    (x1, -2.6 + (k + 1) * 0.32, (k + 1) * 0.19),
                    tint((0.45, 0.43, 0.40), rng, 0.02),
                )
            )
        rail = (0.12, 0.12, 0.12)
        pieces.append(limb((x1 - 2.0, -2.45, 1.1), (x1 - 2.0, -2.6 + 15 * 0.32, 3.95), 0.03, 0.03, rail, 6))
        for k in (0, 5, 10, 14):
            y = -2.45 + k * 0.32
            pieces.append(
                box((x1 - 2.03, y - 0.02, (k + 1) * 0.19), (x1 - 1.97, y + 0.02, 1.1 + k * 0.19 + 0.05), rail)
            )
        # a landing crate holds the props
        table = ((-3.3, 2.2), (1.0, 0.7), 0.6)
    elif any(k in name for k in ("KITCHEN", "BAR", "DINER", "CAFE", "PUB", "COUNTER")):
        pieces.append(box((x0 + 0.3, y1 - 0.7, 0), (x0 + 4.0, y1, 0.92), (0.40, 0.38, 0.35)))
        table = ((2.4, 1.4), (1.2, 0.8), 0.76)
    elif "BEDROOM" in name or "MOTEL" in name or "HOTEL" in name:
        pieces.append(box((x0 + 0.2, 1.0, 0), (x0 + 2.2, y1, 0.5), (0.45, 0.42, 0.40)))
        pieces.append(box((x0 + 0.2, y1 - 0.4, 0.5), (x0 + 2.2, y1, 0.62), (0.60, 0.58, 0.55)))
        table = ((2.4, 1.6), (0.6, 0.5), 0.55)
    else:
        table = ((2.4, 1.5), (1.4, 0.8), 0.76)
    (tx, ty), (tw, td), surface = table
    top = (0.36, 0.28, 0.20)
    pieces.append(box((tx - tw / 2, ty - td / 2, surface - 0.05), (tx + tw / 2, ty + td / 2, surface), top))
    for sx in (-1, 1):
        for sy in (-1, 1):
            lx, ly = tx + sx * (tw / 2 - 0.06), ty + sy * (td / 2 - 0.06)
            pieces.append(box((lx - 0.03, ly - 0.03, 0), (lx + 0.03, ly + 0.03, surface - 0.05), top))
    blk.anchors["table"] = np.array([tx, ty, surface])
    blk.anchors["table_size"] = np.array([tw, td, 0])
    blk.add(merge(pieces, "room"), "set")
    blk.tallest = h


# --------------------------------------------------------------------------- exteriors


def build_street(blk: Blocking, scene: SceneBreakdown, groups, notes: str, rng) -> None:
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
    pieces.append(box((-400, front - 3.5, 0), (400, front + 60, 0.15), kerb))  # pavement, lots
    pieces.append(box((-400, front - 14.0, 0), (400, front - 3.5, 0.02), asphalt))
    pieces.append(box((-400, front - 17.5, 0), (400, front - 14.0, 0.15), kerb))
    for x in np.arange(-150, 150, 6.0):
        pieces.append(box((x, front - 8.85, 0.02), (x + 3.0, front - 8.65, 0.03), (0.7, 0.7, 0.66)))
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
            pieces += _vehicle((x, front - 4.7), kind, tint((0.30, 0.31, 0.33), rng, 0.2))
    if "ambulance" in props:
        pieces += _vehicle((w / 2 + 12.0, front - 4.7), "van", (0.62, 0.62, 0.6))
    if "police tape" in props or "caution tape" in props or "barricade" in props:
        blk.add(merge(_tape(w, d, front, rng), "tape"), "set:tape")
    if "traffic cone" in props:
        for k in range(5):
            pieces.append(
                limb((-4 + 2 * k, front - 3.9, 0.02), (-4 + 2 * k, front - 3.9, 0.7), 0.17, 0.02, (0.6, 0.2, 0.05), 8)
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
        pieces.append(box((x - 0.8, y - 0.8, 0), (x + 0.8, y + 0.8, mast_h), yellow))
        pieces.append(box((x - 22, y - 0.6, mast_h), (x + 8, y + 0.6, mast_h + 1.4), yellow))
        pieces.append(box((x + 4, y - 1.2, mast_h - 1.8), (x + 8, y + 1.2, mast_h), (0.3, 0.3, 0.3)))
        pieces.append(limb((x - 15, y, mast_h), (x - 15, y, mast_h * 0.45), 0.03, 0.03, (0.1, 0.1, 0.1), 4))
        tallest = max(tallest, mast_h)
    blk.add(merge(pieces, "street"), "set")
    blk.tallest = max(tallest, hero_h)
    blk.stage = np.array([0.6, front - 8.0, 0.02])
    blk.anchors["table"] = np.array([blk.stage[0] + 2.4, blk.stage[1] + 0.9, 0.8])
    blk.anchors["table_size"] = np.array([1.2, 0.7, 0])


def build_park(blk: Blocking, rng) -> None:
    """Grass, a path, a bench and trees; a town's edge far behind."""
    pieces = [box((-300, -300, 0), (300, 300, 0.03), (0.17, 0.22, 0.11))]
    pieces.append(box((-300, -15.0, 0.03), (300, -12.5, 0.05), (0.40, 0.37, 0.32)))
    bench = (0.30, 0.22, 0.14)
    bx, by = 2.2, -10.0
    pieces.append(box((bx - 0.9, by - 0.25, 0.42), (bx + 0.9, by + 0.25, 0.47), bench))
    pieces.append(box((bx - 0.9, by + 0.2, 0.47), (bx + 0.9, by + 0.25, 0.9), bench))
    for dx in (-0.8, 0.8):
        pieces.append(box((bx + dx - 0.04, by - 0.22, 0), (bx + dx + 0.04, by + 0.22, 0.42), (0.1, 0.1, 0.1)))
    for _ in range(40):
        x, y = rng.uniform(-60, 60), rng.uniform(-5, 60)
        if abs(x) < 4 and y < 2:
            continue
        h = rng.uniform(5, 11)
        pieces.append(limb((x, y, 0), (x, y, h * 0.5), 0.22, 0.15, (0.16, 0.11, 0.07), 6))
        crown = (0.12, 0.20, 0.08) if rng.uniform() < 0.6 else (0.16, 0.22, 0.09)
        pieces.append(sphere((x, y, h * 0.62), h * rng.uniform(0.25, 0.35), tint(crown, rng, 0.15), squash=1.2))
    for k in range(8):
        x = -120 + 30 * k + rng.uniform(-5, 5)
        pieces.append(
            box((x, 120, 0), (x + rng.uniform(12, 25), 135, rng.uniform(10, 35)), tint((0.45, 0.45, 0.45), rng, 0.1))
        )
    blk.add(merge(pieces, "park"), "set")
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
    body = tint((0.52, 0.51, 0.48), rng, 0.12)
    dark = (0.07, 0.075, 0.085)
    out = [box((x0, y0, 0), (x0 + bw, y0 + bd, height), body)]
    storey = 3.2
    z = 1.0 if height < 9 else 4.0  # ground floor shopfront is its own band
    if height >= 9:
        out.append(box((x0 - 0.03, y0 - 0.03, 0.4), (x0 + bw + 0.03, y0 + bd + 0.03, 3.2), dark))
    while z + 1.5 < height - 0.5:
        out.append(box((x0 - 0.03, y0 - 0.03, z), (x0 + bw + 0.03, y0 + bd + 0.03, z + 1.5), dark))
        z += storey
    n = max(2, int(bw // 3.0))
    for k in range(n + 1):
        x = x0 + bw * k / n
        out.append(box((x - 0.18, y0 - 0.07, 3.4 if height >= 9 else 0.6), (x + 0.18, y0 + 0.01, height - 0.4), body))
    out.append(box((x0 - 0.1, y0 - 0.1, height), (x0 + bw + 0.1, y0 + bd + 0.1, height + 0.4), body))
    return out


def _vehicle(xy, kind, color) -> list[Mesh]:
    x, y = xy
    length, height = (4.3, 1.45) if kind == "car" else (5.4, 2.3)
    glass = (0.05, 0.06, 0.07)
    out = [box((x - length / 2, y - 0.9, 0.3), (x + length / 2, y + 0.9, 0.3 + height * 0.5), color)]
    if kind == "car":
        out.append(box((x - 1.1, y - 0.82, 0.3 + height * 0.5), (x + 0.9, y + 0.82, 0.3 + height), glass))
        out.append(box((x - 1.0, y - 0.78, 0.3 + height * 0.95), (x + 0.8, y + 0.78, 0.3 + height + 0.02), color))
    else:
        out.append(
            box((x - length / 2, y - 0.9, 0.3 + height * 0.5), (x + length / 2 - 0.9, y + 0.9, 0.3 + height), color)
        )
        out.append(
            box(
                (x + length / 2 - 0.9, y - 0.85, 0.3 + height * 0.5),
                (x + length / 2 - 0.2, y + 0.85, 0.3 + height * 0.9),
                glass,
            )
        )
    for dx in (-length / 2 + 0.8, length / 2 - 0.8):
        for dy in (-0.85, 0.85):
            out.append(
                limb((x + dx, y + dy - 0.12, 0.33), (x + dx, y + dy + 0.12, 0.33), 0.33, 0.33, (0.03, 0.03, 0.03), 8)
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
            out.append(box((px - 0.04, py - 0.04, 0), (px + 0.04, py + 0.04, 1.1), post))
        lo = (min(ax, bx) - 0.02, min(ay, by) - 0.02, 0.95)
        hi = (max(ax, bx) + 0.02, max(ay, by) + 0.02, 1.03)
        out.append(box(lo, hi, tape))
    return out


def _hero(blk: Blocking, section: BuildingSection, ruins: bool, rng) -> float:
    building = make_building(section)
    w, d = section.footprint
    floors: dict[int, list[Mesh]] = {}
    for _k, e in enumerate(building.elements):
        if e.kind in ("glass", "beam"):  # blocking keeps the windows open; beams are hidden inside
            continue
        color = tint(building.color, rng, 0.06 if e.kind != "band" else 0.03)
        floors.setdefault(e.floor, []).append(box(e.lo, e.hi, color))
    hx, hy = w / 2 - section.wall_thickness, d / 2 - section.wall_thickness
    parts = []
    for f in sorted(floors):
        mesh = merge(floors[f], f"storey_{f}")
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
        pieces.append(chunk(rng, (x, y, z), size, tint(color, rng, 0.12)))
    for e in building.elements:
        if e.floor == 0 and e.kind in ("pier", "column") and rng.uniform() < 0.55:
            top = e.lo[2] + rng.uniform(0.6, 2.4)
            pieces.append(box(e.lo, (e.hi[0], e.hi[1], min(top, e.hi[2])), tint(color, rng, 0.06)))
    for _ in range(6):  # slabs leaning on the heap
        x, y = rng.uniform(-w / 2, w / 3), rng.uniform(-d / 3, d / 3)
        pieces.append(
            chunk(
                rng,
                (x, y, rng.uniform(1.0, peak)),
                (rng.uniform(3, 5), rng.uniform(2, 3), 0.3),
                tint(color, rng, 0.05),
            )
        )
    return merge(pieces, "rubble")
