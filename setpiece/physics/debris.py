"""Fine debris: small chunks thrown from glue breaks and impacts, settling on the ground.

Too small and too many for the rigid-body solver, they fly ballistically
(gravity, air drag), bounce on the ground with friction and come to rest.
The result has the same shape as the sim's (per-frame rotation and
translation of each chunk), so renderers and USD treat chunks as parts.
"""

from __future__ import annotations

import numpy as np

from setpiece.artifacts import Event, Motion
from setpiece.geometry import BOX_FACES, Mesh
from setpiece.physics.rigid import GRAVITY

DRAG = 0.15  # 1/s air drag on chunk velocity
RESTITUTION = 0.25
GROUND_FRICTION = 0.6  # share of sliding speed lost per bounce
REST_SPEED = 0.15  # m/s under which a grounded chunk stops


PROTOTYPES = 8  # distinct chunk shapes; each chunk is one of them, scaled


def chunk_prototypes(rng: np.random.Generator) -> list[np.ndarray]:
    """Irregular unit-sized boxes (vertices, centred on the origin)."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) / 2
    protos = []
    for _ in range(PROTOTYPES):
        dims = rng.uniform(0.4, 1.0, 3)
        protos.append(corners * dims + rng.uniform(-0.12, 0.12, (8, 3)) * dims)
    return protos


def chunk_scales(count: int, size: float, rng: np.random.Generator) -> np.ndarray:
    """Chunk sizes: many small, few large (metres)."""
    return size * rng.power(0.6, count).clip(0.25, 1.0)


def debris_meshes(count: int, size: float, color, rng: np.random.Generator) -> list[Mesh]:
    protos = chunk_prototypes(rng)
    scales = chunk_scales(count, size, rng)
    shade = rng.uniform(0.8, 1.1, count)
    return [
        Mesh(
            protos[i % PROTOTYPES] * scales[i],
            BOX_FACES,
            tuple(np.asarray(color) * shade[i]),
            f"debris_{i:05d}",
            {"scale": float(scales[i])},
        )
        for i in range(count)
    ]


def half_heights(meshes: list[Mesh]) -> np.ndarray:
    """Bounding radius of each chunk: how far its centre stays above the ground."""
    return np.array([np.linalg.norm(m.vertices, axis=1).max() for m in meshes])


def simulate_debris(
    events: list[Event],
    frames: int,
    fps: float,
    count: int,
    radius: np.ndarray,
    rng: np.random.Generator,
    substeps: int = 4,
) -> Motion:
    """Chunks spawned in proportion to each event's mass x speed, then integrated."""
    spawn_time, pos, vel = _spawn(events, count, rng)
    n = len(spawn_time)
    spin = rng.normal(0, 6.0, (n, 3))
    quat = _random_quats(rng, n)
    rot = np.zeros((frames, n, 4), np.float32)
    rot[..., 3] = 1.0
    trans = np.zeros((frames, n, 3), np.float32)
    visible = np.zeros((frames, n), bool)
    dt = 1.0 / (fps * substeps)
    resting = np.zeros(n, bool)
    for frame in range(frames):
        t = frame / fps
        live = spawn_time <= t
        for _ in range(substeps):
            _step(pos, vel, spin, quat, live & ~resting, radius[:n], dt)
            resting |= live & (pos[:, 2] <= radius[:n] + 1e-3) & (np.linalg.norm(vel, axis=1) < REST_SPEED)
        rot[frame], trans[frame], visible[frame] = quat, pos, live
    return Motion(rot, trans, visible, [], fps)


def _spawn(events: list[Event], count: int, rng: np.random.Generator):
    if not events or count == 0:
        return np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
    weight = np.array([e.mass * max(e.speed, 0.5) for e in events])
    share = rng.multinomial(count, weight / weight.sum())
    times, pos, vel = [], [], []
    for event, k in zip(events, share):
        if k == 0:
            continue
        spread = 0.4 + 0.1 * np.cbrt(event.mass / 1000.0)
        pos.append(np.asarray(event.position) + rng.normal(0, spread, (k, 3)))
        burst = rng.normal(0, 1, (k, 3))
        burst[:, 2] = np.abs(burst[:, 2]) * 0.8  # thrown up and out, not down
        vel.append(burst * (1.5 + 0.4 * min(event.speed, 15.0)))
        times.append(np.full(k, event.time))
    pos_all = np.vstack(pos)
    return np.concatenate(times), pos_all, np.vstack(vel)


def _step(pos, vel, spin, quat, active, radius, dt) -> None:
    a = active
    vel[a, 2] -= GRAVITY * dt
    vel[a] *= 1.0 - DRAG * dt
    pos[a] += vel[a] * dt
    hit = a & (pos[:, 2] < radius)
    pos[hit, 2] = radius[hit]
    vel[hit, 2] = np.abs(vel[hit, 2]) * RESTITUTION
    vel[hit, :2] *= 1.0 - GROUND_FRICTION
    spin[hit] *= 0.5
    quat[a] = _integrate_quat(quat[a], spin[a], dt)


def _integrate_quat(q: np.ndarray, w: np.ndarray, dt: float) -> np.ndarray:
    """q' = q + dt/2 * (0, w) * q, renormalised (quaternions x, y, z, w)."""
    x, y, z, s = q.T
    wx, wy, wz = w.T
    dq = (
        0.5
        * dt
        * np.stack(
            [
                s * wx + wy * z - wz * y,
                s * wy + wz * x - wx * z,
                s * wz + wx * y - wy * x,
                -(wx * x + wy * y + wz * z),
            ],
            axis=1,
        )
    )
    q = q + dq
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _random_quats(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)
