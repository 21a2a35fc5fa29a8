"""Issue 9's collapse targets on random buildings: 2-20 storeys, concrete, brick and sandstone,
each imploded and toppled. Prints one row per run and whether it met the targets.

    .venv/bin/python bench/collapse_random.py [--specs 10] [--first 0] [--modes implode,topple]

Targets: implode: collapse_time 1.0-2.5x free fall, pile <= 0.35 H, largest island <= 0.10,
debris radius <= 1.5 x the footprint half-diagonal + 0.5 H; topple: mean displacement within
45 deg of trigger.side, largest island <= 0.25; both: finite transforms, no piece more than
5 cm below the ground, no piece faster than free fall from the roof, sqrt(2 g H), plus the
crush kick (KICK_CAP). For topple the speed bound is sqrt(3 g H) plus the kick: the top of a
block turning on its hinge lands faster than free fall (a rigid rod pivoting on its foot
lands its tip at sqrt(3 g H)), so the issue's free-fall bound does not hold for it.
Fragment counts are kept modest (1.2 a square metre of floor, at most 2,500) so the whole
table takes minutes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's setpiece, not an installed one

from setpiece.physics import rigid
from setpiece.physics.fracture import fracture, trigger_focus
from setpiece.physics.report import physics_report, piece_centres
from setpiece.spec import ShotSpec, spec_from_dict
from setpiece.world.building import build_scene

MATERIALS = ("concrete", "brick", "sandstone")
PER_M2 = 1.2  # pieces per square metre of floor: slabs cut no coarser than about 1 m
SIDES = {"left": 180.0, "right": 0.0, "front": -90.0, "back": 90.0}


def random_spec(index: int, mode: str) -> ShotSpec:
    """Spec `index` of the table: storeys spread over 2-20, materials in turn, sizes drawn."""
    rng = np.random.default_rng(1000 + index)
    floors = int(rng.integers(2, 21))
    side = ("left", "right", "front", "back")[index % 4]
    w, d = float(rng.uniform(8, 16)), float(rng.uniform(6, 12))
    fall = math.sqrt(2 * floors * 3.2 / rigid.GRAVITY)
    return spec_from_dict(
        {
            "shot": {"frames": int(24 * (0.25 + 2.7 * fall + 1.0)), "seed": index},
            "building": {
                "floors": floors,
                "footprint": [w, d],
                "bays": [int(rng.integers(1, 4)), int(rng.integers(1, 3))],
                "material": MATERIALS[index % 3],
            },
            "fracture": {"fragments": min(2500, int(PER_M2 * floors * w * d)), "cluster_size": 6},
            "trigger": {"mode": mode, "side": "all" if mode == "implode" else side, "time": 0.25, "floors": [0]},
            "sim": {"substeps": 4},
        }
    )


def run(spec: ShotSpec) -> dict:
    """Fracture, sim and report one spec; the report gains the checks' own figures."""
    scene = build_scene(spec)
    b, t = scene.building, spec.trigger
    storey = b.height / spec.building.floors
    focus = trigger_focus(b, t.floors, t.side if t.mode != "implode" else "all", storey)
    frags = fracture(b, spec.fracture.fragments, spec.fracture.cluster_size, np.random.default_rng(1), focus)
    start = time.process_time()
    motion = rigid.simulate(spec, b, frags, np.random.default_rng(0))
    report = physics_report(b, frags, motion, t.time)
    report["sim_cpu_s"] = round(time.process_time() - start, 1)
    centres = piece_centres(frags, motion)
    vis = motion.visible[-1]
    shift = (centres[-1] - centres[0])[vis, :2].mean(axis=0)
    report["angle_deg"] = round(math.degrees(math.atan2(shift[1], shift[0])), 1)
    report["finite"] = bool(np.isfinite(motion.translations).all() and np.isfinite(motion.rotations).all())
    report["lowest_m"] = round(float(lowest_vertex(frags, motion)), 3)
    w, d = b.footprint
    report["radius_bound_m"] = round(1.5 * math.hypot(w, d) / 2 + 0.5 * b.height, 3)
    # a toppling block's top swings faster than a piece dropped from the roof: a rigid rod
    # pivoting on its foot lands its tip at sqrt(3 g H), against sqrt(2 g H) in free fall
    drop = 3.0 if t.mode == "topple" else 2.0
    report["speed_bound_mps"] = round(math.sqrt(drop * rigid.GRAVITY * b.height) + rigid.KICK_CAP, 3)
    return report


def lowest_vertex(frags, motion) -> float:
    """Lowest z of any visible piece's vertex over the shot."""
    most = max(len(v) for v in frags.vertices)
    verts = np.array([np.vstack([v, np.repeat(v[:1], most - len(v), axis=0)]) for v in frags.vertices])
    low = np.inf
    for f in range(motion.frames):
        m = motion.matrices(f)
        z = (np.einsum("nk,nvk->nv", m[:, 2, :3], verts) + m[:, 2, 3:4]).min(axis=1)
        if motion.visible[f].any():
            low = min(low, float(z[motion.visible[f]].min()))
    return low


def failures(spec: ShotSpec, r: dict) -> list[str]:
    """The targets a run missed, by name (empty: all met)."""
    out = []
    if not r["finite"]:
        out.append("NaN")
    if r["lowest_m"] < -0.05:
        out.append("below ground")
    if r["max_speed_mps"] > r["speed_bound_mps"]:
        out.append("too fast")
    h = r["building_height_m"]
    if spec.trigger.mode == "implode":
        c = r["collapse_time_s"]
        if c is None or not 1.0 <= c / r["free_fall_s"] <= 2.5:
            out.append("collapse time")
        if r["pile_height_m"] > 0.35 * h:
            out.append("pile")
        if r["largest_intact_share"] > 0.10:
            out.append("island")
        if r["debris_radius_m"] > r["radius_bound_m"]:
            out.append("radius")
    else:
        off = abs((r["angle_deg"] - SIDES[spec.trigger.side] + 180.0) % 360.0 - 180.0)
        if off > 45.0:
            out.append("side")
        if r["largest_intact_share"] > 0.25:
            out.append("island")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--modes", default="implode,topple")
    args = parser.parse_args()
    head = (
        "spec storeys material  footprint  mode    side  pieces frames collapse(xff) pile/H island "
        "radius/bound angle maxv/bound sim_cpu result"
    )
    print(head)
    met = total = 0
    for index in range(args.first, args.first + args.specs):
        for mode in args.modes.split(","):
            spec = random_spec(index, mode)
            r = run(spec)
            bad = failures(spec, r)
            met += not bad
            total += 1
            c = r["collapse_time_s"]
            ratio = "-" if c is None else f"{c:.2f}({c / r['free_fall_s']:.2f})"
            b = spec.building
            print(
                f"{index:4d} {b.floors:7d} {b.material:9s} {b.footprint[0]:4.1f}x{b.footprint[1]:4.1f}  {mode:7s} "
                f"{spec.trigger.side:5s} {r['pieces']:6d} {spec.shot.frames:6d} {ratio:>13s} "
                f"{r['pile_height_m'] / r['building_height_m']:6.2f} {r['largest_intact_share']:6.3f} "
                f"{r['debris_radius_m']:5.1f}/{r['radius_bound_m']:5.1f} {r['angle_deg']:6.1f} "
                f"{r['max_speed_mps']:4.1f}/{r['speed_bound_mps']:4.1f} {r['sim_cpu_s']:7.1f} "
                f"{'met' if not bad else 'MISSED: ' + ', '.join(bad)}",
                flush=True,
            )
    print(f"{met} of {total} runs met the targets")


if __name__ == "__main__":
    main()
