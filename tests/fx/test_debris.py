import numpy as np

from setpiece.artifacts import Event
from setpiece.physics.debris import debris_meshes, half_heights, simulate_debris

EVENTS = [Event(0.1, (0.0, 0.0, 6.0), 20000.0, 8.0, "break"), Event(0.5, (10.0, 0.0, 1.0), 200.0, 2.0, "impact")]


def _run(count=300, frames=144):
    meshes = debris_meshes(count, 0.3, (0.4, 0.4, 0.4), np.random.default_rng(1))
    return meshes, simulate_debris(EVENTS, frames, 24.0, count, half_heights(meshes), np.random.default_rng(1))


def test_chunks_stay_above_ground_and_settle():
    meshes, motion = _run()
    radius = half_heights(meshes)
    assert np.all(motion.translations[..., 2] >= radius[None, :] - 1e-4)
    tail = motion.translations[-6:]
    assert np.abs(tail - tail[-1]).max() < 1e-3  # at rest by the end
    assert np.median(motion.translations[-1, :, 2]) < 0.5  # lying on the ground


def test_chunks_appear_at_their_event_and_follow_its_weight():
    _, motion = _run()
    assert not motion.visible[0].any()  # nothing before the first break
    born = motion.visible[3] & ~motion.visible[2]
    assert born.sum() > 0.9 * motion.visible[3].sum()
    near_big = np.linalg.norm(motion.translations[3, motion.visible[3], :2], axis=1) < 5
    assert near_big.mean() > 0.9  # the heavy, fast break throws most of the chunks


def test_same_seed_same_debris():
    assert np.array_equal(_run()[1].translations, _run()[1].translations)


def test_no_events_no_debris():
    meshes = debris_meshes(10, 0.3, (0.4, 0.4, 0.4), np.random.default_rng(1))
    motion = simulate_debris([], 12, 24.0, 10, half_heights(meshes), np.random.default_rng(1))
    assert motion.translations.shape[1] == 0
