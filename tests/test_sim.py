import numpy as np
import pytest

from setpiece.artifacts import quat_to_matrix
from setpiece.physics import rigid as simmod
from setpiece.physics.fracture import fracture
from setpiece.physics.rigid import simulate
from setpiece.world.building import build_scene
from tests.conftest import small_spec


def _run(spec):
    scene = build_scene(spec)
    frags = fracture(
        scene.building, spec.fracture.fragments, spec.fracture.cluster_size, np.random.default_rng(spec.shot.seed)
    )
    return scene, frags, simulate(spec, scene.building, frags, np.random.default_rng(0))


LONG = {"frames": 96}  # four seconds: time for the storeys to come down


@pytest.fixture(scope="module")
def collapse():
    return _run(small_spec(shot=LONG))


def _world_vertices(frags, result, frame):
    m = result.matrices(frame)
    vis = result.visible[frame]
    return [v @ m[i, :3, :3].T + m[i, :3, 3] for i, v in enumerate(frags.vertices) if vis[i]]


def test_building_is_exactly_still_before_trigger(collapse):
    spec = small_spec()
    _, _, result = collapse
    before = int(spec.trigger.time * spec.shot.fps)
    assert np.all(result.translations[:before] == 0)
    assert np.all(result.rotations[:before, :, 3] == 1)


def test_trigger_brings_the_building_down(collapse):
    _, frags, result = collapse
    top_rest = max(v[:, 2].max() for v in frags.vertices)
    top_end = max(v[:, 2].max() for v in _world_vertices(frags, result, result.frames - 1))
    assert top_end < 0.75 * top_rest
    assert any(e.kind == "break" for e in result.events)


def test_nothing_below_ground_or_flying_off(collapse):
    spec = small_spec()
    _, frags, result = collapse
    for frame in range(0, result.frames, 3):
        lowest = min(v[:, 2].min() for v in _world_vertices(frags, result, frame))
        assert lowest > -0.05, f"fragment under the ground at frame {frame}"
    centre = np.array(
        [
            (result.matrices(f)[:, :3, :3] @ frags.centroids[:, :, None])[..., 0] + result.translations[f]
            for f in range(result.frames)
        ]
    )
    speed = np.linalg.norm(np.diff(centre, axis=0), axis=-1) * spec.shot.fps
    speed[~(result.visible[1:] & result.visible[:-1])] = 0.0  # cut supports vanish
    assert speed.max() <= spec.sim.max_speed * 1.25
    assert np.abs(centre[-1][:, :2]).max() < 40.0


def test_mass_is_conserved_while_bodies_split():
    spec = small_spec(shot={"frames": 48})
    scene = build_scene(spec)
    frags = fracture(scene.building, 90, 6, np.random.default_rng(3))
    world = simmod._World(spec, scene.building, frags, np.random.default_rng(0))
    pb, start_bodies, checked = world.pb, len(world.bodies), []

    def solver_mass(uid: int) -> float:
        links = range(-1, pb.getNumJoints(uid, physicsClientId=world.client))
        return sum(pb.getDynamicsInfo(uid, k, physicsClientId=world.client)[0] for k in links)

    def check(done: int, total: int) -> None:
        # every fragment not pulverised by the trigger belongs to exactly one body,
        # and the bodies Bullet integrates weigh exactly what those fragments weigh
        members = np.concatenate([b.members for b in world.bodies.values()])
        assert len(members) == len(set(members.tolist())) == int((~world.hidden).sum())
        bullet = sum(solver_mass(b.uid) for b in world.bodies.values())
        assert bullet == pytest.approx(world.masses[~world.hidden].sum(), rel=1e-6)
        checked.append(len(world.bodies))

    result = world.run(check)
    assert max(checked) > start_bodies  # bodies did split along the way
    assert world.hidden.any()  # and the cut supports left the sim
    q = result.rotations[-1][result.visible[-1]]
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)


def test_same_seed_same_motion(collapse):
    _, _, result = collapse
    again = _run(small_spec(shot=LONG))[2]
    assert np.array_equal(again.translations, result.translations)


def test_intact_building_stands_under_its_own_weight():
    spec = small_spec()
    scene = build_scene(spec)
    frags = fracture(
        scene.building, spec.fracture.fragments, spec.fracture.cluster_size, np.random.default_rng(spec.shot.seed)
    )
    world = simmod._World(spec, scene.building, frags, np.random.default_rng(0))
    world._settle()
    glue_before = len(world.glue)
    for _ in range(24 * spec.sim.substeps):  # one second, no trigger
        world.pb.stepSimulation(physicsClientId=world.client)
        world._break_glue(0.0)
    rot = np.zeros((len(frags), 4))
    trans = np.zeros((len(frags), 3))
    world._record(rot, trans)
    moved = np.linalg.norm(
        (quat_to_matrix(rot) @ frags.centroids[:, :, None])[..., 0] + trans - frags.centroids, axis=1
    )
    assert moved.max() < 0.05
    # Bullet's redundant-frame creep may pop a stray bond; the structure must hold
    assert len(world.glue) >= 0.95 * glue_before


def _portal(glue_scale: float, frames: int = 48):
    """Two columns under one slab, as three single-fragment clusters; the trigger cuts
    the left column, so the slab hangs off the right one and the pair tips over.
    Returns the fragments, the sim result and the fragment index of each element."""
    from setpiece.spec import MATERIALS
    from setpiece.world.building import Building, Element

    elements = (
        Element("pier", 0, (-3.0, -0.5, 0.0), (-2.5, 0.5, 3.0)),  # left column: cut
        Element("pier", 0, (2.5, -0.5, 0.0), (3.0, 0.5, 3.0)),  # right column
        Element("slab", 0, (-3.0, -0.5, 3.0), (3.0, 0.5, 3.3)),
    )
    density, strength, color = MATERIALS["concrete"]
    building = Building(elements, density, strength, color, (6.0, 1.0), 3.3)
    spec = small_spec(
        shot={"frames": frames},
        trigger={"time": 0.25, "floors": [0], "side": "left", "kind": "supports"},
        sim={"glue_scale": glue_scale},
    )
    frags = fracture(building, 3, 1, np.random.default_rng(0))
    result = simulate(spec, building, frags, np.random.default_rng(0))
    index = {e: int(np.flatnonzero(frags.element == e)[0]) for e in range(3)}
    return frags, result, index


def _relative_motion(result, a: int, b: int) -> float:
    """How far fragment b has moved in fragment a's frame since the start (m, at 1 m lever)."""

    def pose(frame, i):
        m = result.matrices(frame)[i]
        return m[:3, :3], m[:3, 3]

    ra0, ta0 = pose(0, a)
    rb0, tb0 = pose(0, b)
    ra1, ta1 = pose(result.frames - 1, a)
    rb1, tb1 = pose(result.frames - 1, b)
    rel0 = ra0.T @ rb0, ra0.T @ (tb0 - ta0)
    rel1 = ra1.T @ rb1, ra1.T @ (tb1 - ta1)
    return float(np.abs(rel1[0] - rel0[0]).max() + np.linalg.norm(rel1[1] - rel0[1]))


@pytest.fixture(scope="module")
def weak_portal():
    return _portal(glue_scale=0.001)


def test_glue_breaks_under_load(weak_portal):
    # weak glue: the slab tears off the right column as the pair tips
    _, result, idx = weak_portal
    assert _relative_motion(result, idx[1], idx[2]) > 0.3


def test_glue_holds_below_its_strength():
    # glue a hundred times concrete's: column and slab tip over as one piece
    _, result, idx = _portal(glue_scale=100.0)
    top_drop = -(result.matrices(result.frames - 1)[idx[2]][2, 3])
    assert _relative_motion(result, idx[1], idx[2]) < 0.05
    assert top_drop > -1.0  # sanity: it did not fly up


def test_cut_supports_vanish_at_the_trigger_and_not_before(weak_portal):
    _, result, idx = weak_portal
    trigger = int(np.ceil(0.25 * result.fps))
    cut, kept = idx[0], [idx[1], idx[2]]
    assert result.visible[:trigger, cut].all()  # standing until the trigger
    assert not result.visible[trigger:, cut].any()  # gone from the trigger frame on
    assert result.visible[:, kept].all()
