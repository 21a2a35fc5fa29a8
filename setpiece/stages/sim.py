"""Sim stage: the rigid-body collapse with breakable bonds (per-frame motion and events)."""

from __future__ import annotations

from setpiece.artifacts import Motion
from setpiece.graph import Context, Stage


def run(ctx: Context) -> Motion:
    from setpiece.physics.rigid import simulate

    return simulate(ctx.spec, ctx.inputs["scene"], ctx.inputs["fracture"], ctx.rng(), ctx.report)


STAGE = Stage(
    name="sim",
    reads=("trigger", "sim", "shot.frames", "shot.fps", "shot.seed"),
    needs=("scene", "fracture"),
    version="6",
    run=run,
    schema=Motion.SCHEMA,
)
