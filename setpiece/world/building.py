"""The procedural building as structural members, and the shot camera that frames it.

A storey is a concrete frame (columns, beams under the slab, the slab) closed
by facade walls of the building's material: piers between windows, sill and
header bands, and a glass pane in every window. Every member is an
axis-aligned box, so fracture can cut it exactly. The world is Z-up with the
ground at z = 0 and the footprint centred on the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.camera import Camera, sun_direction
from setpiece.spec import MATERIALS, BuildingSection, ShotSpec

SILL_HEIGHT = 0.9  # metres of wall below each window
GLASS_THICKNESS = 0.02  # m
MIN_WINDOW = 0.1  # m; a narrower opening (window_ratio near 0) is built as solid wall
BEAM_DEPTH = 0.45  # m below the slab
BEAM_WIDTH = 0.35  # m, at most; never wider than the columns
# density kg/m3, bond strength N/m2, linear RGB; the frame is always concrete
FRAME = MATERIALS["concrete"]
GLASS = (2500.0, 1.5e4, (0.30, 0.36, 0.40))


@dataclass(frozen=True)
class Element:
    kind: str  # slab | column | beam | pier | band | glass
    floor: int  # storey index, 0 = ground
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    material: str = "concrete"  # concrete | brick | sandstone | glass

    @property
    def volume(self) -> float:
        return float(np.prod(np.subtract(self.hi, self.lo)))

    @property
    def center(self) -> np.ndarray:
        return (np.asarray(self.lo) + np.asarray(self.hi)) / 2

    @property
    def is_support(self) -> bool:
        """Columns and wall piers carry the floors above."""
        return self.kind in ("column", "pier")


@dataclass(frozen=True)
class Building:
    elements: tuple[Element, ...]
    density: float  # kg/m3 of the walls' material
    glue_strength: float  # N per m2 of glued contact in the walls' material
    color: tuple[float, float, float]
    footprint: tuple[float, float]
    height: float

    @property
    def volume(self) -> float:
        return sum(e.volume for e in self.elements)

    def material(self, name: str) -> tuple[float, float, tuple[float, float, float]]:
        """(density kg/m3, bond strength N/m2, colour) of one of the building's materials."""
        if name == "glass":
            return GLASS
        return MATERIALS[name]

    def densities(self) -> np.ndarray:
        """kg/m3 of each element."""
        return np.array([self.material(e.material)[0] for e in self.elements])


@dataclass(frozen=True)
class ShotScene:
    building: Building
    camera: Camera
    sun_dir: np.ndarray


def build_scene(spec: ShotSpec) -> ShotScene:
    building = make_building(spec.building)
    return ShotScene(
        building, make_camera(spec, building), sun_direction(spec.light.sun_elevation, spec.light.sun_azimuth)
    )


def make_building(b: BuildingSection) -> Building:
    elements: list[Element] = []
    for floor in range(b.floors):
        elements += _storey(b, floor)
    density, strength, color = MATERIALS[b.material]
    return Building(tuple(elements), density, strength, color, b.footprint, b.floors * b.storey_height)


def _storey(b: BuildingSection, floor: int) -> list[Element]:
    """Walls, columns and beams of one storey, topped by its slab."""
    w, d = b.footprint
    z0 = floor * b.storey_height
    z_slab = z0 + b.storey_height - b.slab_thickness
    hx, hy = w / 2, d / 2
    out = [Element("slab", floor, (-hx, -hy, z_slab), (hx, hy, z_slab + b.slab_thickness))]
    out += _facade(b, floor, z0, z_slab, axis=0, length=w, offset=-hy)
    out += _facade(b, floor, z0, z_slab, axis=0, length=w, offset=hy - b.wall_thickness)
    inner = d - 2 * b.wall_thickness  # side facades fit between the long ones
    out += _facade(b, floor, z0, z_slab, axis=1, length=inner, offset=-hx)
    out += _facade(b, floor, z0, z_slab, axis=1, length=inner, offset=hx - b.wall_thickness)
    out += _interior_columns(b, floor, z0, z_slab)
    out += _beams(b, floor, z_slab)
    return out


def _facade(
    b: BuildingSection, floor: int, z0: float, z1: float, axis: int, length: float, offset: float
) -> list[Element]:
    """One wall: piers at bay lines, sill band below and header band above the windows, glass between."""
    bays = b.bays[axis]
    t = b.wall_thickness
    bay = length / bays
    window = bay * b.window_ratio
    sill = 0.0 if floor == 0 else SILL_HEIGHT  # ground floor: doors and shopfronts
    head = z1 - min(0.6, 0.25 * (z1 - z0))
    mat = b.material
    if window < MIN_WINDOW:  # no window, or one too narrow to glaze: a solid wall
        return [_wall_box(axis, -length / 2, length / 2, offset, t, z0, z1, "pier", floor, mat)]
    out = []
    if sill > 0:
        out.append(_wall_box(axis, -length / 2, length / 2, offset, t, z0, z0 + sill, "band", floor, mat))
    out.append(_wall_box(axis, -length / 2, length / 2, offset, t, head, z1, "band", floor, mat))
    edges = -length / 2 + bay * np.arange(bays + 1)
    half = (bay - window) / 2
    for centre in edges:
        a = max(centre - half, -length / 2)
        c = min(centre + half, length / 2)
        out.append(_wall_box(axis, a, c, offset, t, z0 + sill, head, "pier", floor, mat))
    pane = offset + (t - GLASS_THICKNESS) / 2
    for left, right in zip(edges[:-1], edges[1:]):
        out.append(
            _wall_box(axis, left + half, right - half, pane, GLASS_THICKNESS, z0 + sill, head, "glass", floor, "glass")
        )
    return out


def _wall_box(
    axis: int, a: float, c: float, offset: float, t: float, z0: float, z1: float, kind: str, floor: int, mat: str
) -> Element:
    if axis == 0:
        return Element(kind, floor, (a, offset, z0), (c, offset + t, z1), mat)
    return Element(kind, floor, (offset, a, z0), (offset + t, c, z1), mat)


def _column_lines(b: BuildingSection) -> tuple[np.ndarray, np.ndarray]:
    w, d = b.footprint
    nx, ny = b.bays
    return -w / 2 + w * np.arange(1, nx) / nx, -d / 2 + d * np.arange(1, ny) / ny


def _interior_columns(b: BuildingSection, floor: int, z0: float, z1: float) -> list[Element]:
    s = b.column_size / 2
    xs, ys = _column_lines(b)
    return [Element("column", floor, (x - s, y - s, z0), (x + s, y + s, z1)) for x in xs for y in ys]


def _beams(b: BuildingSection, floor: int, z_slab: float) -> list[Element]:
    """Beams under the slab along the interior column lines, from wall to column face to wall.
    A beam is no wider than the columns it frames into: a wider one would poke past the
    column's faces, where the beams of the two directions would fill the same volume."""
    w, d = b.footprint
    t, s, hb = b.wall_thickness, b.column_size / 2, min(BEAM_WIDTH, b.column_size) / 2
    xs, ys = _column_lines(b)
    z = (z_slab - BEAM_DEPTH, z_slab)
    out = []
    for y in ys:  # along x
        stops = [-w / 2 + t] + [v for x in xs for v in (x - s, x + s)] + [w / 2 - t]
        for a, c in zip(stops[::2], stops[1::2]):
            out.append(Element("beam", floor, (a, y - hb, z[0]), (c, y + hb, z[1])))
    for x in xs:  # along y; the lines cross only at columns
        stops = [-d / 2 + t] + [v for y in ys for v in (y - s, y + s)] + [d / 2 - t]
        for a, c in zip(stops[::2], stops[1::2]):
            out.append(Element("beam", floor, (x - hb, a, z[0]), (x + hb, c, z[1])))
    return out


def make_camera(spec: ShotSpec, building: Building) -> Camera:
    """The spec's camera, or a three-quarter view that frames the building and its fall."""
    c = spec.camera
    target = c.target or (0.0, 0.0, building.height * 0.4)
    if c.position is None:
        half_fov = np.arctan(c.sensor_width / spec.render.width * spec.render.height / 2 / c.focal_length)
        extent = max(building.height, max(building.footprint)) * 0.8
        dist = extent / np.tan(half_fov)
        view = np.array([0.75, -1.0, 0.22])
        position = tuple(np.asarray(target) + view / np.linalg.norm(view) * dist)
    else:
        position = c.position
    return Camera(
        tuple(map(float, position)),
        tuple(map(float, target)),
        c.focal_length,
        c.sensor_width,
        spec.render.width,
        spec.render.height,
        far=5000.0,
    )
