"""Render stage: each frame's parts drawn by the chosen backend (beauty, AOVs, dust layer)."""

from __future__ import annotations

from setpiece.camera import sun_direction
from setpiece.graph import Context, FrameStage
from setpiece.world.building import ShotScene, make_camera


class RenderWorker:
    def __init__(self, ctx: Context):
        from setpiece.render import fragment_meshes, make_backend

        spec, inputs = ctx.spec, ctx.inputs
        building, frags, debris, self.dust = inputs["scene"], inputs["fracture"], inputs["debris"], inputs["dust"]
        light = spec.light
        self.scene = ShotScene(
            building, make_camera(spec, building), sun_direction(light.sun_elevation, light.sun_azimuth)
        )
        traced = self.dust is not None and spec.dust.path_traced
        first = self.dust[0] if traced else None
        box = (first.bounds_min, first.bounds_max, first.density.shape) if traced else None
        meshes = fragment_meshes(self.scene, frags, ctx.rng())
        self.backend = make_backend(spec, self.scene, meshes, debris.meshes if debris else [], box)
        self.parts = inputs["sim"].concat(debris.motion) if debris else inputs["sim"]

    def frame(self, index: int, upstream=None):
        # the previous frame's pose comes from the motion, not from the last call, so a
        # frame renders the same whichever frames a worker was given before it
        previous = self.parts.matrices(index - 1) if index > 0 else None
        dust = self.dust[index] if self.dust else None
        return self.backend.render(index, self.parts.matrices(index), previous, dust)

    def close(self, ok: bool) -> None:
        self.backend.close()


STAGE = FrameStage(
    name="render",
    reads=("render", "camera", "light", "shot.seed", "dust.path_traced", "dust.wind", "building.material"),
    needs=("scene", "fracture", "sim", "debris", "dust"),
    version="3",
    open=RenderWorker,
)
