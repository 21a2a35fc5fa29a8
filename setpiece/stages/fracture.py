"""Fracture stage: the building's members cut into convex pieces by material, with a bond graph."""

from __future__ import annotations

from setpiece.artifacts import Fragments
from setpiece.graph import Context, Stage


def run(ctx: Context) -> Fragments:
    from setpiece.physics.fracture import fracture, trigger_focus

    f, t, building = ctx.spec.fracture, ctx.spec.trigger, ctx.inputs["scene"]
    storey = building.height / (1 + max(e.floor for e in building.elements))
    side = t.side if t.mode != "implode" else "all"
    focus = trigger_focus(building, t.floors, side, storey)
    return fracture(building, f.fragments, f.cluster_size, ctx.rng(), focus)


STAGE = Stage(
    name="fracture",
    reads=("fracture", "shot.seed", "trigger.floors", "trigger.side", "trigger.mode"),
    needs=("scene",),
    version="2",
    run=run,
    schema=Fragments.SCHEMA,
)
