"""The procedural building as structural solids, and the shot camera that frames it.

Every element is an axis-aligned box (slab, column, pier between windows,
sill/header band), so fracture can cut it exactly; windows are the gaps
between piers and bands. The world is Z-up with the ground at z = 0 and the
footprint centred on the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.camera import Camera, sun_direction
from setpiece.spec import MATERIALS, BuildingSection, ShotSpec

SILL_HEIGHT = 0.9  # metres of wall below each window


@dataclass(frozen=True)
class Element:
    kind: str  # slab | column | pier | band
    floor: int  # storey index, 0 = ground
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

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
    density: float  # kg/m3
    glue_strength: float  # N per m2 of glued contact
    color: tuple[float, float, float]
    footprint: tuple[float, float]
    height: float

    @property
    def volume(self) -> float:
        return sum(e.volume for e in self.elements)


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
    """Walls and columns of one storey, topped by its slab."""
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
    return out


def _facade(
    b: BuildingSection, floor: int, z0: float, z1: float, axis: int, length: float, offset: float
) -> list[Element]:
    """One wall: piers at bay lines, sill band below and header band above the windows."""
    bays = b.bays[axis]
    t = b.wall_thickness
    bay = length / bays
    window = bay * b.window_ratio
    sill = 0.0 if floor == 0 else SILL_HEIGHT  # ground floor: doors and shopfronts
    head = z1 - min(0.6, 0.25 * (z1 - z0))
    if window <= 0:
        return [_wall_box(axis, -length / 2, length / 2, offset, t, z0, z1, "pier", floor)]
    out = []
    if sill > 0:
        out.append(_wall_box(axis, -length / 2, length / 2, offset, t, z0, z0 + sill, "band", floor))
    out.append(_wall_box(axis, -length / 2, length / 2, offset, t, head, z1, "band", floor))
    edges = -length / 2 + bay * np.arange(bays + 1)
    for _i, centre in enumerate(edges):
        half = (bay - window) / 2
        a = max(centre - half, -length / 2)
        c = min(centre + half, length / 2)
        out.append(_wall_box(axis, a, c, offset, t, z0 + sill, head, "pier", floor))
    return out


def _wall_box(
    axis: int, a: float, c: float, offset: float, t: float, z0: float, z1: float, kind: str, floor: int
) -> Element:
    if axis == 0:
        return Element(kind, floor, (a, offset, z0), (c, offset + t, z1))
    return Element(kind, floor, (offset, a, z0), (offset + t, c, z1))


def _interior_columns(b: BuildingSection, floor: int, z0: float, z1: float) -> list[Element]:
    w, d = b.footprint
    nx, ny = b.bays
    s = b.column_size / 2
    out = []
    for i in range(1, nx):
        for j in range(1, ny):
            x, y = -w / 2 + w * i / nx, -d / 2 + d * j / ny
            out.append(Element("column", floor, (x - s, y - s, z0), (x + s, y + s, z1)))
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
