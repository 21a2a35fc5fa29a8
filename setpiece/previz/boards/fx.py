"""VFX proxies: dust, smoke, debris, glass, fire, sparks and cracks, placed
where a beat happens in the set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from setpiece.geometry import Mesh
from setpiece.previz.boards.shapes import chunk, limb, merge, sphere, tint

if TYPE_CHECKING:
    from setpiece.previz.boards.blocking import Blocking


@dataclass
class FxGroup:
    """The proxies of one VFX beat (action line): lead category and the others."""

    line: int
    lead: str
    categories: tuple[str, ...]
    anchor: np.ndarray = field(default_factory=lambda: np.zeros(3))
    parts: dict[str, int] = field(default_factory=dict)


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


def place_fx(blk: Blocking, groups, rng) -> None:
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
                group.parts[cat] = blk.add(merge(meshes, f"fx_{cat}"), f"fx:{cat}")
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
            out.append(sphere(c, r, tint((0.52, 0.49, 0.44), rng, 0.04), fine=True, squash=0.8))
    if cat == "smoke":
        for k in range(10):
            c = anchor + [rng.normal(0, s * 0.5), rng.normal(-0.5, s * 0.4), s * 0.7 * k]
            out.append(
                sphere(c, s * rng.uniform(0.7, 1.2) * (1 + 0.08 * k), tint((0.16, 0.16, 0.17), rng, 0.1), fine=True)
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
                chunk(rng, c, size, tint((0.55, 0.53, 0.50) if not blk.exterior else (0.40, 0.38, 0.35), rng, 0.1))
            )
    if cat == "glass":
        for _ in range(45):
            c = anchor + outward * rng.uniform(0.1, 2.5 * s) + [rng.normal(0, s * 0.8), 0, rng.normal(0, s * 0.5)]
            out.append(
                chunk(
                    rng,
                    c,
                    (s * rng.uniform(0.05, 0.2), 0.01, s * rng.uniform(0.05, 0.25)),
                    tint((0.45, 0.62, 0.68), rng, 0.1),
                )
            )
    if cat in ("fire", "explosion"):
        n = 9 if cat == "fire" else 14
        for _ in range(n):
            c = anchor + outward * 0.3 + [rng.normal(0, s * 0.6), 0, abs(rng.normal(0, s * 0.8))]
            r = s * rng.uniform(0.3, 0.7) * (2.2 if cat == "explosion" else 1.0)
            col = (0.95, 0.45, 0.08) if rng.uniform() < 0.6 else (1.0, 0.75, 0.2)
            out.append(sphere(c, r, col, squash=1.6 if cat == "fire" else 1.0))
    if cat == "sparks":
        for _ in range(40):
            d = outward + [rng.normal(0, 0.6), 0, rng.normal(0.2, 0.5)]
            c = anchor + d * rng.uniform(0.1, 1.5) * s * 2
            out.append(chunk(rng, c, (0.03, 0.03, s * 0.25), (1.0, 0.8, 0.3)))
    if cat == "cracks":
        p = anchor.copy() + outward * 0.03 - [0, 0, s * 2.0]
        p[2] = max(p[2], 0.1)
        for _ in range(10):
            step = np.array([rng.normal(0, s * 0.3), 0, s * rng.uniform(0.25, 0.5)])
            q = p + step
            out.append(limb(p, q, 0.025 * max(s, 0.3), 0.02 * max(s, 0.3), (0.03, 0.03, 0.03), 4))
            if rng.uniform() < 0.4:
                branch = q + [rng.normal(0, s * 0.3), 0, rng.normal(0, s * 0.2)]
                out.append(limb(q, branch, 0.018, 0.012, (0.03, 0.03, 0.03), 4))
            p = q
    return out
