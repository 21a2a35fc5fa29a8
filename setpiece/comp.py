"""Comp stage: the rendered layer over its background, in scene-linear light.

Thin for now: beauty over a sky ramp (or a plate, when given). Shadow
catcher, OCIO and grain come with the dust/comp work.
"""

from __future__ import annotations

import numpy as np

from setpiece.color import sky_gradient
from setpiece.render.passes import Passes


def over(passes: Passes, background: np.ndarray) -> np.ndarray:
    """Premultiplied beauty over a background of the same size."""
    return passes.beauty + (1.0 - passes.alpha[..., None]) * background


def sky_background(passes: Passes, sky_color, intensity: float) -> np.ndarray:
    h, w = passes.alpha.shape
    zenith = np.asarray(sky_color) * intensity
    return sky_gradient(h, w, zenith * 1.6 + 0.15 * intensity, zenith)
