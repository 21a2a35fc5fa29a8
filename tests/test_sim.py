import math

import numpy as np
import pytest

from setpiece.physics import rigid as simmod
from setpiece.physics.fracture import fracture
from setpiece.physics.report import physics_report, piece_centres, piece_tops
from setpiece.physics.rigid import simulate
from setpiece.world.building import build_scene
from tests.conftest import small_spec

FRAGMENTS = 300  # the small building cut fine enough to crumble


def _run(**sections):
    sections.setdefault("shot", {"frames": 96})
    sections.setdefault("fracture", {"fragments": FRAGMENTS, "cluster_size": 6})
    spec = small_spec(**sections)
    scene = build_scene(spec)
    frags = fracture(scene.building, spec.fracture.fragments, spec.fracture.cluster_size, np.random.default_rng(1))
    motion = simulate(spec, scene.building, frags, np.random.default_rng(0))
    return spec, scene, frags, motion


@pytest.fixture(scope="module")
def implode():
    return _run(trigger={"mode": "implode", "side": "all"})


@pytest.fixture(scope="module")
def topple():
    return _run(trigger={"mode": "topple", "side": "left"})


def _report(run):
    spec, scene, frags, motion = run
    return physics_report(scene.building, frags, motion, spec.trigger.time)


def test_building_is_exactly_still_before_trigger(implode):
    spec, _, _, motion = implode
    before = int(spec.trigger.time * spec.shot.fps)
    assert np.all(motion.translations[:before] == 0)
    assert np.all(motion.rotations[:before, :, 3] == 1)


def test_cut_supports_vanish(implode):
    spec, scene, frags, motion = implode
    after = math.ceil(spec.trigger.time * spec.shot.fps)
    els = scene.building.elements
    cut = np.array([els[e].is_support and els[e].floor == 0 for e in frags.element])
    stripped = np.array([els[e].material == "glass" and els[e].floor == 0 for e in frags.element])
    assert cut.any()
    assert motion.visible[: after - 1, cut].all()
    assert not motion.visible[after:, cut | stripped].any()  # the cut storey's glass goes too
    assert motion.visible[-1, ~(cut | stripped)].all()
    assert any(e.kind == "break" for e in motion.events)


def test_implode_meets_the_targets_on_a_small_building(implode):
    spec, scene, _, _ = implode
    report = _report(implode)
    h = scene.building.height
    assert report["collapse_time_s"] is not None
    assert 1.0 * report["free_fall_s"] <= report["collapse_time_s"] <= 2.5 * report["free_fall_s"]
    assert report["pile_height_m"] <= 0.35 * h
    assert report["largest_intact_share"] <= 0.10
    w, d = scene.building.footprint
    assert report["debris_radius_m"] <= 1.5 * math.hypot(w, d) / 2 + 0.5 * h


def test_never_nan_below_ground_or_faster_than_free_fall(implode, topple):
    for spec, scene, frags, motion in (implode, topple):
        assert np.isfinite(motion.translations).all() and np.isfinite(motion.rotations).all()
        tops = piece_tops(frags, motion)  # noqa: F841 (finite transforms give finite tops)
        lows = _lowest(frags, motion)
        assert lows[motion.visible].min() > -0.05
        fall = math.sqrt(2 * simmod.GRAVITY * scene.building.height)
        assert _report((spec, scene, frags, motion))["max_speed_mps"] <= fall + simmod.KICK_CAP


def _lowest(frags, motion):
    most = max(len(v) for v in frags.vertices)
    verts = np.array([np.vstack([v, np.repeat(v[:1], most - len(v), axis=0)]) for v in frags.vertices])
    low = np.zeros(motion.visible.shape)
    for f in range(motion.frames):
        m = motion.matrices(f)
        low[f] = (np.einsum("nk,nvk->nv", m[:, 2, :3], verts) + m[:, 2, 3:4]).min(axis=1)
    return low


def test_no_energy_from_nowhere_after_the_trigger(implode):
    """Kinetic plus potential energy never rises above what the building held at the trigger."""
    spec, scene, frags, motion = implode
    masses = frags.volumes * scene.building.densities()[frags.element]
    centres = piece_centres(frags, motion)
    vel = np.diff(centres, axis=0) * motion.fps
    both = motion.visible[1:] & motion.visible[:-1]
    kinetic = 0.5 * (masses * (vel**2).sum(-1) * both).sum(1)
    potential = (masses * simmod.GRAVITY * centres[1:, :, 2] * both).sum(1)
    start = math.ceil(spec.trigger.time * spec.shot.fps)
    total = kinetic + potential
    assert total[start:].max() <= total[start] * 1.02


def test_topple_ends_on_the_chosen_side(topple):
    _, scene, frags, motion = topple
    centres = piece_centres(frags, motion)
    vis = motion.visible[-1]
    shift = (centres[-1] - centres[0])[vis, :2].mean(axis=0)
    angle = math.degrees(math.atan2(shift[1], shift[0]))
    assert abs(abs(angle) - 180.0) < 45.0, f"mean displacement points {angle:.0f} deg, not left"
    assert _report(topple)["largest_intact_share"] <= 0.25


def test_same_seed_same_motion(topple):
    again = _run(trigger={"mode": "topple", "side": "left"})[3]
    assert np.array_equal(again.translations, topple[3].translations)


def _world(glue_scale: float):
    spec = small_spec(sim={"glue_scale": glue_scale})
    scene = build_scene(spec)
    frags = fracture(scene.building, 200, 6, np.random.default_rng(1))
    world = simmod._World(spec, scene.building, frags, np.random.default_rng(0))
    world._stand_up()
    return world


def test_intact_building_stands_and_weak_glue_breaks_under_its_own_weight():
    strong = _world(1.0)
    strong._settle_structure(0.0)
    assert strong.intact.all() and all(b.static for b in strong.bodies.values())
    weak = _world(0.3)  # below 1 / SAFETY: the bonds cannot carry the dead load
    weak._settle_structure(0.0)
    assert not weak.intact.all()
    assert any(not b.static for b in weak.bodies.values())
    strong.pb.disconnect(strong.client)
    weak.pb.disconnect(weak.client)


def test_joints_fail_before_members():
    """Losing one side's supports overloads the structure: joints between members are
    over-represented among the bonds that give way first."""
    spec = small_spec(trigger={"mode": "partial", "side": "left"})
    scene = build_scene(spec)
    frags = fracture(scene.building, 200, 6, np.random.default_rng(1))
    world = simmod._World(spec, scene.building, frags, np.random.default_rng(0))
    world._stand_up()
    world._trigger(0.0)
    before = world.intact.copy()
    world._settle_structure(0.0)
    world.pb.disconnect(world.client)
    broken = before & ~world.intact
    joint = frags.element[frags.bonds[:, 0]] != frags.element[frags.bonds[:, 1]]
    assert broken.sum() > 0
    assert joint[broken].mean() > joint.mean()  # joints give way out of proportion to their number


def test_report_matches_a_hand_computed_column_cut():
    """A one-storey, one-bay block whose supports are cut: the slab drops its clear height h
    in sqrt(2h/g), the report's free fall is sqrt(2H/g) and the collapse ends soon after."""
    spec, scene, frags, motion = _run(
        building={"floors": 1, "footprint": [4.0, 4.0], "bays": [1, 1], "window_ratio": 0.0},
        fracture={"fragments": 40, "cluster_size": 4},
        trigger={"mode": "implode", "side": "all", "time": 0.25},
        shot={"frames": 60},
    )
    report = _report((spec, scene, frags, motion))
    h_total = scene.building.height
    assert report["free_fall_s"] == pytest.approx(math.sqrt(2 * h_total / 9.81), abs=1e-3)
    drop = h_total - spec.building.slab_thickness  # the slab's underside falls to the ground
    hand = math.sqrt(2 * drop / 9.81)
    slab = np.array([scene.building.elements[e].kind == "slab" for e in frags.element])
    lows = _lowest(frags, motion)[:, slab].min(axis=1)
    trigger = math.ceil(spec.trigger.time * spec.shot.fps)
    landed = (np.argmax(lows < 0.1) - trigger) / spec.shot.fps
    assert landed == pytest.approx(hand, abs=2 / spec.shot.fps)
    assert report["collapse_time_s"] is not None
    assert hand <= report["collapse_time_s"] <= hand + 1.0
    assert report["pile_height_m"] == pytest.approx(spec.building.slab_thickness, abs=0.25)
