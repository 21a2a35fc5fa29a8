"""Per-shot poses of a blocking: which VFX proxies show, and the hero building
intact, mid-collapse or as rubble.
"""

from __future__ import annotations

import math

import numpy as np

from setpiece.previz.boards.blocking import Blocking, shot_categories
from setpiece.previz.boards.fx import FxGroup
from setpiece.previz.boards.sets import Hero
from setpiece.previz.shotlist import Shot


def fx_group_of(shot: Shot, blk: Blocking) -> FxGroup | None:
    cats = shot_categories(shot)
    exact = [g for g in blk.fx if g.line == shot.line and g.lead == cats[0]]
    if exact:
        return exact[0]
    same = [g for g in blk.fx if g.lead == cats[0]]
    return same[0] if same else None


def hero_state(shot: Shot, blk: Blocking) -> str:
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
    if shot.kind == "vfx" and (group := fx_group_of(shot, blk)) is not None:
        visible = set(group.parts.values())
    for group in blk.fx:
        for part in group.parts.values():
            if part not in visible:
                xf[part] = HIDDEN
    if shot.kind == "vfx" and shot.size in ("MCU", "CU", "ECU"):
        for part in blk.parts_labelled("set:tape"):  # the camera is inside the cordon
            xf[part] = HIDDEN
    hero = blk.hero
    state = hero_state(shot, blk)
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
