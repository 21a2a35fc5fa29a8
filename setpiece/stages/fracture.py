"""Fracture stage: the building's members cut into convex pieces with a bond graph."""

from __future__ import annotations

from setpiece.artifacts import Fragments
from setpiece.graph import Context, Stage


def run(ctx: Context) -> Fragments:
    from setpiece.physics.fracture import fracture

    f = ctx.spec.fracture
    return fracture(ctx.inputs["scene"], f.fragments, f.cluster_size, ctx.rng())


STAGE = Stage(
    name="fracture",
    reads=("fracture", "shot.seed"),
    needs=("scene",),
    version="1",
    run=run,
    schema=Fragments.SCHEMA,
)
