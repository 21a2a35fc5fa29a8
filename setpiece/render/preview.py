"""Preview backend: the shot drawn by the rasteriser, with the ray-marched dust layer."""

from __future__ import annotations

import numpy as np

from setpiece.fx.volume import dust_layer
from setpiece.geometry import Mesh
from setpiece.render.raster import PreviewRenderer


class PreviewBackend:
    """Draws a shot's frames: fragment transforms in, passes out."""

    def __init__(self, spec, scene, meshes: list[Mesh], exposure: list[np.ndarray], dust_box=None):
        self.spec, self.scene = spec, scene
        self.renderer = PreviewRenderer(meshes, exposure)
        light = spec.light
        self.sun_color = np.asarray(light.sun_color) * light.sun_intensity
        self.sky_color = np.asarray(light.sky_color) * light.sky_intensity
        self.radius = 1.5 * max(scene.building.height, *scene.building.footprint)

    def render(self, frame: int, matrices: np.ndarray, previous: np.ndarray | None = None, dust=None):
        """(passes, dust layer or None) for one frame."""
        passes = self.renderer.render(
            self.scene.camera, matrices, self.scene.sun_dir, self.sun_color, self.sky_color, self.radius, previous
        )
        return passes, (dust_layer(dust, passes, self.scene, self.spec) if dust is not None else None)

    def close(self) -> None:
        self.renderer.release()
