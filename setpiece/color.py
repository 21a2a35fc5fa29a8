"""Colour pipeline on OpenColorIO: scene-linear Rec.709 in, display-referred out.

By default the ACES CG config built into OCIO (no file to ship or fetch) with
its ACES 2.0 SDR view; a studio's own config, display and view can be named
in the spec. EXR passes stay scene-linear for artists to grade themselves.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from setpiece.errors import SpecError

BUILTIN_CONFIG = "cg-config-latest"
SCENE_LINEAR = "Linear Rec.709 (sRGB)"
SRGB_TEXTURE = "sRGB Encoded Rec.709 (sRGB)"
LUT_SIZE = 65
LOG2_MIN, LOG2_MAX = -12.0, 8.0  # scene-linear range the baked LUT covers


@lru_cache(maxsize=8)
def _config(path: str):
    import PyOpenColorIO as ocio

    try:
        return ocio.Config.CreateFromFile(path) if path else ocio.Config.CreateFromBuiltinConfig(BUILTIN_CONFIG)
    except ocio.Exception as err:
        raise SpecError(f"comp.ocio_config: cannot load OCIO config {path!r}: {err}") from None


@lru_cache(maxsize=8)
def _display_processor(config: str, display: str, view: str):
    import PyOpenColorIO as ocio

    cfg = _config(config)
    if display not in cfg.getDisplays():
        raise SpecError(f"comp.display: {display!r} is not in the OCIO config; choose one of {list(cfg.getDisplays())}")
    if view not in cfg.getViews(display):
        raise SpecError(
            f"comp.view: {view!r} is not a view of {display!r}; choose one of {list(cfg.getViews(display))}"
        )
    src = SCENE_LINEAR if config == "" else ocio.ROLE_SCENE_LINEAR
    transform = ocio.DisplayViewTransform(src=src, display=display, view=view)
    return _baked(cfg, cfg.getProcessor(transform).getDefaultCPUProcessor())


def _baked(cfg, exact):
    """The display transform baked into a log2-shaped 65^3 LUT, as monitor LUTs
    are: ACES 2.0 per pixel costs 0.1 s a 640x360 frame, the LUT 0.02 s, and
    differs by under 1/255 on the colours of a shot."""
    import PyOpenColorIO as ocio

    shaper = ocio.AllocationTransform(allocation=ocio.ALLOCATION_LG2, vars=[LOG2_MIN, LOG2_MAX])
    to_linear = cfg.getProcessor(shaper, ocio.TRANSFORM_DIR_INVERSE).getDefaultCPUProcessor()
    axis = np.linspace(0.0, 1.0, LUT_SIZE, dtype=np.float32)
    r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")  # OCIO wants blue fastest
    grid = np.ascontiguousarray(np.stack([r, g, b], -1).reshape(-1, 3))
    to_linear.applyRGB(grid)
    exact.applyRGB(grid)
    lut = ocio.Lut3DTransform(gridSize=LUT_SIZE)
    lut.setData(grid.ravel())
    return cfg.getProcessor(ocio.GroupTransform([shaper, lut])).getDefaultCPUProcessor()


@lru_cache(maxsize=2)
def _from_srgb_processor():
    return _config("").getProcessor(SRGB_TEXTURE, SCENE_LINEAR).getDefaultCPUProcessor()


def check_display(config: str, display: str, view: str) -> None:
    """Fail early (before any sim) on a config, display or view that does not exist."""
    _display_processor(config, display, view)


def to_display(
    linear: np.ndarray,
    exposure: float = 0.0,
    config: str = "",
    display: str = "sRGB - Display",
    view: str = "ACES 2.0 - SDR 100 nits (Rec.709)",
) -> np.ndarray:
    """Scene-linear RGB -> display-encoded RGB in [0, 1] (float32)."""
    img = np.ascontiguousarray(np.maximum(linear, 0.0) * (2.0**exposure), np.float32)
    _display_processor(config, display, view).applyRGB(img)
    return np.clip(img, 0.0, 1.0)


def quantise8(display: np.ndarray) -> np.ndarray:
    return (np.clip(display, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded image (a photo plate) to scene-linear Rec.709."""
    img = np.ascontiguousarray(encoded, np.float32)
    _from_srgb_processor().applyRGB(img)
    return img


def sky_gradient(height: int, width: int, horizon, zenith) -> np.ndarray:
    """A simple vertical sky ramp (linear RGB) used behind the render."""
    t = np.linspace(1.0, 0.0, height)[:, None, None] ** 0.7
    ramp = np.asarray(horizon) * (1 - t) + np.asarray(zenith) * t
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.float32)
