"""Preview backend: the shot drawn by the rasteriser, with the ray-marched dust layer.

The look-dev tool: same materials, sky, environment, shadows and ambient
occlusion as the final backend, in a fraction of the time. The dust cloud
shades what lies under it: the sun light on the building, debris and ground
is multiplied by the dust's transmittance towards the sun.
"""

from __future__ import annotations

import numpy as np

from setpiece.fx.volume import dust_layer
from setpiece.geometry import Mesh
from setpiece.render import frame_scene
from setpiece.render.raster import PreviewRenderer, cloud_shadow


class PreviewBackend:
    """Draws a shot's frames: fragment transforms in, passes out."""

    def __init__(self, spec, scene, meshes: list[Mesh], exposure: list[np.ndarray], dust_box=None, look=None):
        from setpiece.render import make_look

        self.spec, self.scene = spec, scene
        self.look = look or make_look(spec, scene, meshes)
        self.renderer = PreviewRenderer(meshes, exposure, static=self.look.static, sky=self.look.sky)
        light = spec.light
        self.sun_color = np.asarray(light.sun_color) * light.sun_intensity
        self.sky_color = np.asarray(light.sky_color) * light.sky_intensity
        self.radius = 1.5 * max(scene.building.height, *scene.building.footprint)

    def render(self, frame: int, matrices: np.ndarray, previous: np.ndarray | None = None, dust=None):
        """(passes, dust layer or None) for one frame."""
        look = self.look
        camera = look.camera(self.scene, frame)
        raster = self.renderer.render_frame(
            camera,
            look.expand(matrices),
            self.scene.sun_dir,
            self.sun_color,
            self.sky_color,
            self.radius,
            look.expand(previous),
            look.camera(self.scene, frame - 1),
            glass_over=True,
            haze=look.haze,  # aerial perspective, as sky.aerial_perspective
            dust_shadow=cloud_shadow(dust, self.scene.sun_dir),
            centre=self.scene.camera.target,  # shadows stay put while the camera shakes
        )
        passes = raster.passes
        scene = frame_scene(self.scene, camera)
        return passes, (dust_layer(dust, passes, scene, self.spec) if dust is not None else None)

    def close(self) -> None:
        self.renderer.release()
