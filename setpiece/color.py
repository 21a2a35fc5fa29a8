"""Display transform: scene-linear light to display-referred sRGB.

A filmic (ACES-fitted) tone curve keeps sunlit concrete from clipping; the
EXR passes stay scene-linear for artists to grade themselves.
"""

from __future__ import annotations

import numpy as np

EXPOSURE = 1.0  # linear scale applied before the tone curve


def tonemap(linear: np.ndarray, exposure: float = EXPOSURE) -> np.ndarray:
    """ACES filmic fit (Narkowicz 2015) on linear RGB, output in [0, 1] linear display."""
    x = np.maximum(linear * exposure, 0.0)
    return np.clip((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def to_display8(linear: np.ndarray) -> np.ndarray:
    """Scene-linear RGB -> 8-bit sRGB image."""
    return (linear_to_srgb(tonemap(linear)) * 255 + 0.5).astype(np.uint8)


def sky_gradient(height: int, width: int, horizon, zenith) -> np.ndarray:
    """A simple vertical sky ramp (linear RGB) used behind the preview render."""
    t = np.linspace(1.0, 0.0, height)[:, None, None] ** 0.7
    ramp = np.asarray(horizon) * (1 - t) + np.asarray(zenith) * t
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.float32)
