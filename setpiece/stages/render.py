"""Render stage: each frame's parts drawn by the chosen backend (beauty, AOVs, dust layer)."""

from __future__ import annotations

import numpy as np

from setpiece.camera import sun_direction
from setpiece.graph import Context, FrameStage
from setpiece.world.building import ShotScene, make_camera


class RenderWorker:
    def __init__(self, ctx: Context):
        from setpiece.render import fragment_meshes, make_backend, make_look

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
        self.parts = inputs["sim"].concat(debris.motion) if debris else inputs["sim"]
        clear = swept_area(frags.centroids, inputs["sim"])
        look = make_look(spec, self.scene, meshes, clear, self.parts.events)
        self.backend = make_backend(spec, self.scene, meshes, debris.meshes if debris else [], box, look)
        plates = inputs["plate"].sized(spec.render.width, spec.render.height) if inputs["plate"] else None
        self.projection = self._projection(spec, plates, len(frags)) if plates else None

    def _projection(self, spec, plates, n_fragments: int):
        """The photo painted onto the fragments it shows (see setpiece/plate/shot.py); the
        intact building's depth from the camera tells which rest points the photo saw."""
        import numpy as np

        from setpiece.plate.shot import PhotoProjection

        rest = self.parts.matrices(0)
        rest[:n_fragments] = np.eye(4)
        rest[n_fragments:] = 0.0  # debris is not in the photo
        passes, _ = self.backend.render(0, rest, None, None)
        return PhotoProjection(
            self.scene.camera, plates.photo, passes.depth, n_fragments, self.scene.sun_dir, spec.light
        )

    def frame(self, index: int, upstream=None):
        # the previous frame's pose comes from the motion, not from the last call, so a
        # frame renders the same whichever frames a worker was given before it
        previous = self.parts.matrices(index - 1) if index > 0 else None
        dust = self.dust[index] if self.dust else None
        matrices = self.parts.matrices(index)
        passes, layer = self.backend.render(index, matrices, previous, dust)
        if self.projection:
            self.projection.apply(passes, matrices)
        return passes, layer

    def close(self, ok: bool) -> None:
        self.backend.close()


def swept_area(centroids: np.ndarray, motion) -> tuple[np.ndarray, np.ndarray]:
    """The plan (xy) box the fragments cover over the whole shot: neighbours stay out of it."""
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for f in range(0, motion.frames, max(1, motion.frames // 24)) if motion.frames else ():
        m = motion.matrices(f)
        seen = motion.visible[f]
        pos = np.einsum("nij,nj->ni", m[seen, :3, :3], centroids[seen]) + m[seen, :3, 3]
        if len(pos):
            lo = np.minimum(lo, np.percentile(pos[:, :2], 0.5, axis=0))
            hi = np.maximum(hi, np.percentile(pos[:, :2], 99.5, axis=0))
    if not np.all(np.isfinite(lo)):
        return np.zeros(2), np.zeros(2)
    return lo, hi


STAGE = FrameStage(
    name="render",
    reads=(
        "render",
        "camera",
        "light",
        "environment",
        "comp.plate",
        "plate.photo",
        "shot.seed",
        "shot.frames",
        "shot.fps",
        "dust.path_traced",
        "dust.wind",
        "building.material",
    ),
    needs=("plate", "scene", "fracture", "sim", "debris", "dust"),
    version="5",
    open=RenderWorker,
)
