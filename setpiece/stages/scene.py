"""Scene stage: the procedural building as structural members."""

from __future__ import annotations

from setpiece.graph import Context, Stage
from setpiece.world.building import Building, make_building


def run(ctx: Context) -> Building:
    return make_building(ctx.spec.building)


STAGE = Stage(name="scene", reads=("building",), needs=(), version="1", run=run, schema="Building.1")
