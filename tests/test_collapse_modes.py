"""Trigger modes on a small building (issue 9): partial brings down one side and leaves the
rest standing; topple breaks up when it lands."""

import numpy as np
import pytest

from setpiece.physics.fracture import fracture
from setpiece.physics.report import physics_report, piece_centres
from setpiece.physics.rigid import simulate
from setpiece.world.building import build_scene
from tests.conftest import small_spec

AXES = {"left": (0, -1), "right": (0, 1), "front": (1, -1), "back": (1, 1)}


def _run(**sections):
    sections.setdefault("shot", {"frames": 72})
    sections.setdefault("fracture", {"fragments": 300, "cluster_size": 6})
    spec = small_spec(**sections)
    scene = build_scene(spec)
    frags = fracture(scene.building, spec.fracture.fragments, spec.fracture.cluster_size, np.random.default_rng(1))
    motion = simulate(spec, scene.building, frags, np.random.default_rng(0))
    return spec, scene.building, frags, motion


def _toward(side, building, points):
    """Position across the footprint toward `side`: +0.5 on that side's face, -0.5 opposite."""
    axis, sign = AXES[side]
    return sign * points[:, axis] / building.footprint[axis]


@pytest.mark.parametrize("side", ["left", "back"])
def test_partial_brings_down_one_side_and_the_rest_stands(side):
    spec, building, frags, motion = _run(trigger={"mode": "partial", "side": side})
    centres = piece_centres(frags, motion)
    where = _toward(side, building, frags.centroids)
    shown = motion.visible[-1]
    failing = shown & (where > 0.3)  # the side's outer fifth, every storey
    standing = shown & (where < -0.2)  # the opposite 30%
    assert failing.sum() > 30 and standing.sum() > 40
    # the failing side ends in rubble low on the ground...
    assert np.percentile(centres[-1, failing, 2], 90) < 0.3 * building.height
    # ...while the opposite side has not moved
    moved = np.linalg.norm(centres[-1, standing] - centres[0, standing], axis=1)
    assert moved.max() < 0.05
    # and the standing part is still glued in one piece
    assert physics_report(building, frags, motion, spec.trigger.time)["largest_intact_share"] > 0.3


def test_topple_with_two_cuts_breaks_up_on_the_chosen_side():
    """The example's pattern, two storeys cut: the block between the cuts used to tip onto the
    ground and stay whole; landing on the ground now breaks its bonds."""
    spec, building, frags, motion = _run(
        shot={"frames": 96},
        building={"floors": 6, "footprint": [12.0, 9.0], "bays": [3, 2]},  # the example's block
        fracture={"fragments": 600, "cluster_size": 8},
        trigger={"mode": "topple", "side": "left", "floors": [0, 2]},
    )
    centres = piece_centres(frags, motion)
    shown = motion.visible[-1]
    shift = (centres[-1] - centres[0])[shown, :2].mean(axis=0)
    assert shift[0] < 0 and abs(shift[1]) < -shift[0]  # within 45 degrees of -x
    assert physics_report(building, frags, motion, spec.trigger.time)["largest_intact_share"] <= 0.25
