"""Comp stage: the CG layer over its background, in scene-linear light.

Per frame: motion blur of the CG layer from its motion vectors, then over a
sky ramp or a photo plate (where the render's ground becomes a shadow catcher
and the building a holdout-correct layer), then the dust layer on top, then
the OCIO display transform and film grain. Scene-linear results go to EXR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from setpiece.artifacts import Passes
from setpiece.color import quantise8, sky_gradient, srgb_to_linear, to_display
from setpiece.errors import InputError
from setpiece.spec import ShotSpec

BLUR_TAPS = 8


@dataclass
class CompResult:
    linear: np.ndarray  # (H, W, 3) scene-linear composite
    display8: np.ndarray  # (H, W, 3) uint8 display-encoded, with grain


def comp_frame(
    spec: ShotSpec,
    passes: Passes,
    rng: np.random.Generator,
    plate: np.ndarray | None = None,
    dust: np.ndarray | None = None,
    focus: float | None = None,
) -> CompResult:
    """dust: premultiplied RGBA already held out by the render's depth; rng: this frame's grain;
    focus: metres to the plane of focus when camera.fstop asks for depth of field."""
    c = spec.comp
    rgba = np.dstack([passes.beauty, passes.alpha])
    if c.motion_blur > 0:
        rgba = motion_blur(rgba, passes.motion, c.motion_blur)
    if plate is None:
        background = passes.background
        if background is None:
            background = sky_background(passes, spec.light.sky_color, spec.light.sky_intensity)
        linear = rgba[..., :3] + (1.0 - rgba[..., 3:4]) * background
    else:
        linear = over_plate(rgba, passes, plate, c.shadow_strength)
    if dust is not None:
        linear = dust[..., :3] + (1.0 - dust[..., 3:4]) * linear
    if spec.camera.fstop > 0 and focus:
        linear = camera_depth_of_field(spec, linear, passes.depth, focus)
    display = to_display(linear, c.exposure, c.ocio_config, c.display, c.view)
    if c.grain > 0:
        display = film_grain(display, c.grain, rng)
    return CompResult(linear.astype(np.float32), quantise8(display))


def camera_depth_of_field(spec: ShotSpec, linear: np.ndarray, depth: np.ndarray, focus: float) -> np.ndarray:
    """Thin-lens depth of field of the spec's camera (camera.fstop, focus distance in metres)."""
    from setpiece.render.camera_fx import depth_of_field

    cam = spec.camera
    return depth_of_field(linear, depth, cam.focal_length, cam.sensor_width, cam.fstop, focus)


def sky_background(passes: Passes, sky_color, intensity: float) -> np.ndarray:
    h, w = passes.alpha.shape
    zenith = np.asarray(sky_color) * intensity
    return sky_gradient(h, w, zenith * 1.6 + 0.15 * intensity, zenith)


def over_plate(rgba: np.ndarray, passes: Passes, plate: np.ndarray, strength: float) -> np.ndarray:
    """Building over the plate; the CG ground only darkens the plate where it is in shadow."""
    alpha = np.clip(rgba[..., 3:4], 1e-6, 1.0)
    object_rgb = rgba[..., :3] / alpha * passes.matte[..., None]  # the building alone, premultiplied
    caught = 1.0 - strength * (1.0 - passes.shadow[..., None])
    return object_rgb + (1.0 - passes.matte[..., None]) * plate * caught


def motion_blur(rgba: np.ndarray, motion: np.ndarray, shutter: float) -> np.ndarray:
    """Gather along each pixel's motion vector over the open shutter, centred on the frame."""
    h, w = motion.shape[:2]
    speed = np.abs(motion).max()
    if speed * shutter < 0.5:
        return rgba
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    acc = np.zeros_like(rgba)
    for t in np.linspace(-0.5, 0.5, BLUR_TAPS) * shutter:
        sx = np.clip(np.rint(xs - motion[..., 0] * t), 0, w - 1).astype(np.intp)
        sy = np.clip(np.rint(ys - motion[..., 1] * t), 0, h - 1).astype(np.intp)
        acc += rgba[sy, sx]
    return acc / BLUR_TAPS


def film_grain(display: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Luminance grain, strongest in the mid-tones as on film; rng is the frame's own stream,
    so grain is fresh per frame and reproducible."""
    noise = rng.standard_normal(display.shape[:2]).astype(np.float32)
    luma = display.mean(axis=-1, keepdims=True)
    weight = 4.0 * luma * (1.0 - luma)
    return np.clip(display + amount * 0.035 * weight * noise[..., None], 0.0, 1.0)


def load_plate(path: str, width: int, height: int) -> np.ndarray:
    """A photo plate as scene-linear RGB, scaled to cover the frame and centre-cropped."""
    import OpenImageIO as oiio

    buf = oiio.ImageBuf(path)
    if buf.has_error or buf.spec().width == 0:
        raise InputError(f"comp.plate: cannot read image {path!r}: {buf.geterror() or 'not an image'}")
    spec = buf.spec()
    scale = max(width / spec.width, height / spec.height)
    size = (max(width, round(spec.width * scale)), max(height, round(spec.height * scale)))
    resized = oiio.ImageBufAlgo.resize(buf, roi=oiio.ROI(0, size[0], 0, size[1], 0, 1, 0, spec.nchannels))
    pixels = resized.get_pixels(oiio.FLOAT)
    if pixels is None or resized.has_error:
        raise InputError(f"comp.plate: cannot decode image {path!r}: {resized.geterror()}")
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    crop = pixels[y0 : y0 + height, x0 : x0 + width]
    rgb = crop[..., :3] if spec.nchannels >= 3 else np.repeat(crop[..., :1], 3, axis=2)
    linear_file = spec.format.basetype in (oiio.FLOAT, oiio.HALF)
    return rgb if linear_file else srgb_to_linear(rgb)
