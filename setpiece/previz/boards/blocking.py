"""Blocking: a scene's set, characters, props and VFX proxies as renderer
parts, built from its breakdown alone (the same script gives the same boards).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from setpiece.geometry import Mesh
from setpiece.previz.boards.fx import FxGroup, place_fx
from setpiece.previz.boards.mannequins import CHARACTER_COLORS, Actor, character_height, mannequin
from setpiece.previz.boards.props import PROP_COLORS, PropPlace, prop_mesh
from setpiece.previz.boards.sets import Hero, build_park, build_room, build_street
from setpiece.previz.boards.shapes import box, moved, stable_seed, yaw_matrix
from setpiece.previz.breakdown import SceneBreakdown
from setpiece.previz.shotlist import LARGE_PROPS, Shot, also_categories
from setpiece.vocab import DEFAULT_VFX, VFX_CATEGORIES


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
    lead = shot.subject.lower() if shot.subject.lower() in VFX_CATEGORIES else DEFAULT_VFX
    out = [lead]
    out += [c for c in also_categories(shot.description) if c in VFX_CATEGORIES]
    return list(dict.fromkeys(out))


def is_exterior(scene: SceneBreakdown) -> bool:
    return scene.int_ext in ("EXT", "INT/EXT")


def base_location(scene: SceneBreakdown) -> str:
    return (scene.location or scene.heading).split(" - ")[0].strip().upper()


def scene_text(scene: SceneBreakdown) -> str:
    return " ".join([scene.heading, scene.summary] + [b.text for b in scene.vfx])


def block_scene(scene: SceneBreakdown, shots: list[Shot] = (), notes: str = "") -> Blocking:
    """The scene's blocking. ``shots`` (of this scene) add characters and VFX beats an
    edited shot list names; ``notes`` is text about the location from other scenes
    (storeys, material)."""
    blk = Blocking(scene.number, is_exterior(scene), scene.lighting or "day")
    rng = np.random.default_rng(stable_seed(base_location(scene), scene.int_ext))
    groups = vfx_groups(scene, shots)
    green = ("PARK", "FOREST", "WOOD", "FIELD", "GARDEN", "MEADOW", "COUNTRYSIDE", "FARM")
    place = (scene.location or scene.heading).upper()
    if blk.exterior and not groups and any(re.search(rf"\b{w}", place) for w in green):
        build_park(blk, rng)
    elif blk.exterior:
        build_street(blk, scene, groups, notes or scene_text(scene), rng)
    else:
        build_room(blk, scene, rng)
    _place_actors(blk, scene_cast(scene, shots))
    _place_props(blk, scene)
    place_fx(blk, groups, np.random.default_rng(stable_seed("fx", scene.number, scene.heading)))
    return blk


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
        color_index = stable_seed(name) % len(CHARACTER_COLORS)
        while color_index in used and len(used) < len(CHARACTER_COLORS):
            color_index = (color_index + 1) % len(CHARACTER_COLORS)
        used.add(color_index)
        height = character_height(name)
        mesh = moved(mannequin(CHARACTER_COLORS[color_index], height), yaw_matrix(yaw, pos))
        part = blk.add(mesh, f"character:{name}")
        blk.actors[name] = Actor(name, np.asarray(pos, float), yaw, height, part, CHARACTER_COLORS[color_index])


def _place_props(blk: Blocking, scene: SceneBreakdown) -> None:
    names = [p.name for p in scene.props if p.name not in LARGE_PROPS]
    if not names:
        return
    table, (tw, td, _) = blk.anchors["table"], blk.anchors["table_size"]
    if blk.exterior and "neighbour" in blk.anchors:  # on a street: a crate for the hand props
        crate = (0.40, 0.33, 0.22)
        blk.add(box(table - [tw / 2, td / 2, 0.8], table + [tw / 2, td / 2, 0], crate), "set")
    spacing = min(0.42, (tw - 0.3) / max(1, len(names)))
    for k, name in enumerate(names):
        mesh, size = prop_mesh(name, PROP_COLORS[k % len(PROP_COLORS)])
        x = table[0] - spacing * (len(names) - 1) / 2 + spacing * k
        where = np.array([x, table[1] + (0.08 if k % 2 else -0.1), table[2]])
        yaw = math.radians((stable_seed(name) % 50) - 25)
        part = blk.add(moved(mesh, yaw_matrix(yaw, where)), f"prop:{name}")
        blk.props[name] = PropPlace(name, where + [0, 0, size[2] / 2], size, part)
