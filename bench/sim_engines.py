"""Measure candidate rigid-body engines on one rubble scene: the same pieces, the same drop.

    .venv/bin/python bench/sim_engines.py [--pieces 3000] [--frames 120] [--substeps 3]

The scene is the example building's worst case for a solver: every piece loose
at once, heaped over the footprint with an outward throw, and settling on the
ground (each piece a box of its own size, as the collapse sim gives loose
pieces). Prints wall seconds per 120 frames for each engine and setting.
Figures measured on 2 CPU cores are in bench/sim_engines.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

FPS = 24.0


def scene(pieces: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, half sizes and initial velocities of `pieces` boxes heaped over a 12 x 9 m footprint."""
    rng = np.random.default_rng(seed)
    per_layer = 24 * 18
    idx = np.arange(pieces)
    centres = np.c_[(idx % 24) * 0.5 - 5.75, (idx // 24 % 18) * 0.5 - 4.25, 0.3 + (idx // per_layer) * 0.5]
    centres += rng.uniform(-0.03, 0.03, centres.shape)
    half = rng.uniform(0.12, 0.22, (pieces, 3))
    vel = np.c_[centres[:, 0] * 0.4, centres[:, 1] * 0.4, -rng.uniform(0, 3, pieces)]
    return centres, half, vel


def run_bullet(pieces: int, frames: int, substeps: int, iterations: int, freeze: bool) -> float:
    import pybullet as pb

    centres, half, vel = scene(pieces)
    c = pb.connect(pb.DIRECT)
    pb.setGravity(0, 0, -9.81, physicsClientId=c)
    pb.setPhysicsEngineParameter(
        fixedTimeStep=1 / (FPS * substeps),
        numSolverIterations=iterations,
        deterministicOverlappingPairs=1,
        physicsClientId=c,
    )
    pb.createMultiBody(0, pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=c), physicsClientId=c)
    bodies = []
    for p, h, v in zip(centres, half, vel):
        shape = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=h.tolist(), physicsClientId=c)
        uid = pb.createMultiBody(
            float(np.prod(2 * h) * 2400), shape, basePosition=p.tolist(), useMaximalCoordinates=True, physicsClientId=c
        )
        pb.changeDynamics(uid, -1, lateralFriction=0.7, physicsClientId=c)
        pb.resetBaseVelocity(uid, v.tolist(), [0, 0, 0], physicsClientId=c)
        bodies.append(uid)
    still = np.zeros(len(bodies), int)
    frozen = np.zeros(len(bodies), bool)
    start = time.perf_counter()
    for _ in range(frames):
        for _ in range(substeps):
            pb.stepSimulation(physicsClientId=c)
        for k, uid in enumerate(bodies):
            if frozen[k]:
                continue
            lin = pb.getBaseVelocity(uid, physicsClientId=c)[0]
            still[k] = still[k] + 1 if lin[0] ** 2 + lin[1] ** 2 + lin[2] ** 2 < 0.05**2 else 0
            if freeze and still[k] >= 6:  # our own sleeping: a resting piece turns static
                pb.changeDynamics(uid, -1, mass=0.0, physicsClientId=c)
                frozen[k] = True
    seconds = time.perf_counter() - start
    pb.disconnect(c)
    return seconds


def run_mujoco(pieces: int, frames: int, substeps: int, iterations: int) -> float:
    import mujoco

    centres, half, vel = scene(pieces)
    bodies = "\n".join(
        f'<body pos="{p[0]:.3f} {p[1]:.3f} {p[2]:.3f}"><freejoint/>'
        f'<geom type="box" size="{h[0]:.3f} {h[1]:.3f} {h[2]:.3f}" density="2400"/></body>'
        for p, h in zip(centres, half)
    )
    xml = f"""<mujoco><option timestep="{1 / (FPS * substeps):.6f}" iterations="{iterations}"
      solver="PGS" cone="pyramidal"/><size memory="2G"/>
      <default><geom friction="0.7" condim="3"/></default>
      <worldbody><geom type="plane" size="100 100 0.1"/>{bodies}</worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    data.qvel.reshape(-1, 6)[:, :3] = vel
    start = time.perf_counter()
    for _ in range(frames * substeps):
        mujoco.mj_step(model, data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=3000)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--substeps", type=int, default=3)
    parser.add_argument("--only", default="", help="comma list: bullet, bullet-freeze, mujoco")
    args = parser.parse_args()
    runs = {
        "bullet": lambda: run_bullet(args.pieces, args.frames, args.substeps, 10, freeze=False),
        "bullet-freeze": lambda: run_bullet(args.pieces, args.frames, args.substeps, 10, freeze=True),
        "mujoco": lambda: run_mujoco(args.pieces, args.frames, args.substeps, 10),
    }
    picked = args.only.split(",") if args.only else list(runs)
    print(f"{args.pieces} loose pieces, {args.frames} frames at {FPS:g} fps, {args.substeps} substeps")
    for name in picked:
        seconds = runs[name]()
        print(f"  {name:<14} {seconds:7.1f} s  ({seconds / args.frames * 120:.1f} s per 120 frames)")


if __name__ == "__main__":
    main()
