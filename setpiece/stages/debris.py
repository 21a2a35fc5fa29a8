"""Debris stage: fine chunks thrown from the sim's breaks and impacts."""

from __future__ import annotations

from setpiece.artifacts import Debris
from setpiece.graph import Context, Stage


def run(ctx: Context) -> Debris | None:
    from setpiece.physics.debris import debris_meshes, half_heights, simulate_debris

    d, motion = ctx.spec.debris, ctx.inputs["sim"]
    if not d.enabled or d.count == 0:
        return None
    rng = ctx.rng()
    meshes = debris_meshes(d.count, d.size, ctx.inputs["scene"].color, rng)
    chunks = simulate_debris(motion.events, motion.frames, ctx.spec.shot.fps, d.count, half_heights(meshes), rng)
    n = chunks.translations.shape[1]  # fewer than asked when the sim made few events
    return Debris(meshes[:n], chunks) if n else None


STAGE = Stage(
    name="debris",
    reads=("debris", "shot.fps", "shot.seed"),
    needs=("scene", "sim"),
    version="2",
    run=run,
    schema=Debris.SCHEMA,
)
