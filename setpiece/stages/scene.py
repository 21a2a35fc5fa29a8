"""Scene stage: the procedural building as structural members (frame, walls, glass)."""

from __future__ import annotations

from setpiece.graph import Context, Stage
from setpiece.world.building import Building, make_building


def run(ctx: Context) -> Building:
    return make_building(ctx.spec.building)


STAGE = Stage(name="scene", reads=("building",), needs=(), version="2", run=run, schema="Building.2")
