"""Plate stage: the street photo and its clean plate (the building removed), scene-linear."""

from __future__ import annotations

from setpiece.graph import Context, Stage


def run(ctx: Context):
    from setpiece.plate.shot import make_plates

    p = ctx.spec.plate
    return make_plates(p) if p.photo else None


STAGE = Stage(
    name="plate",
    reads=("plate",),
    needs=(),
    version="1",
    run=run,
    schema="Plates.1",
)
