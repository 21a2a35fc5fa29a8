"""Comp stage: the CG layer over its background, in scene-linear light.

Per frame: motion blur of the CG layer from its motion vectors, then over a
sky ramp or a photo plate (where the render's ground becomes a shadow catcher
and the building a holdout-correct layer), then the dust layer on top, then
the OCIO display transform and film grain. Scene-linear results go to EXR.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from setpiece.artifacts import Passes
from setpiece.color import quantise8, sky_gradient, srgb_to_linear, to_display
from setpiece.errors import InputError, SetpieceWarning
from setpiece.spec import ShotSpec

BLUR_TAPS = 8


@dataclass
class CompResult:
    linear: np.ndarray  # (H, W, 3) scene-linear composite
    display8: np.ndarray  # (H, W, 3) uint8 display-encoded, with grain
    dust: np.ndarray | None = None  # (H, W, 4) the premultiplied dust layer comped over it, if any


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
    return CompResult(linear.astype(np.float32), quantise8(display), dust)


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
    """A photo plate as scene-linear RGB, scaled to cover the frame and centre-cropped.

    Only as many pixels as the frame needs are decoded: JPEGs at 1/2, 1/4 or 1/8
    size in the decoder (PIL draft), mip-mapped files from the smallest level that
    covers the frame, anything else read in strips and box-averaged as it streams
    in, so a 20000x20000 plate costs seconds and little memory. Plates over
    MAX_PLATE_PIXELS warn (SetpieceWarning); truncated or corrupt files and
    non-finite pixels are refused with an InputError naming comp.plate."""
    try:
        return _load_plate(path, width, height)
    except UnicodeDecodeError:  # OIIO hands back a corrupt header's text undecoded
        raise InputError(f"comp.plate: {path!r} has a corrupt header; re-export the plate") from None


def _load_plate(path: str, width: int, height: int) -> np.ndarray:
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise InputError(f"comp.plate: cannot read image {path!r}: {oiio.geterror() or 'not an image'}")
    try:
        spec = inp.spec()
        w, h, nch = spec.width, spec.height, spec.nchannels
        if w <= 0 or h <= 0 or nch <= 0 or spec.depth > 1:
            raise InputError(f"comp.plate: {path!r} is not a 2D image ({w}x{h}, {nch} channels)")
        if w * h > HARD_PLATE_PIXELS:
            raise InputError(
                f"comp.plate: {path!r} claims {w}x{h} pixels, over the {HARD_PLATE_PIXELS // 10**6} MP limit; "
                "scale the plate down to the shot's resolution first"
            )
        scale = max(width / w, height / h)  # the plate covers the frame
        cover = (max(width, round(w * scale)), max(height, round(h * scale)))
        factor = max(1, int(1.0 / scale))  # whole-pixel reduction that still covers
        if inp.format_name() == "jpeg":
            pixels, linear = _read_jpeg_reduced(path, cover), False
        else:
            pixels = _read_oiio_reduced(inp, path, cover, factor)
            linear = spec.format.basetype in (oiio.FLOAT, oiio.HALF)
    finally:
        inp.close()
    if w * h > MAX_PLATE_PIXELS:
        warnings.warn(
            SetpieceWarning(
                f"comp.plate: {path!r} is {w}x{h} ({w * h / 1e6:.0f} MP, over {MAX_PLATE_PIXELS // 10**6} MP); "
                f"read at reduced size {pixels.shape[1]}x{pixels.shape[0]} for the {width}x{height} frame"
            ),
            stacklevel=3,  # the caller of load_plate
        )
    if not np.isfinite(pixels).all():
        raise InputError(f"comp.plate: {path!r} has NaN or infinite pixels; fix or re-export the plate")
    rgb = pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    frame = _cover_crop(rgb, width, height)
    return frame if linear else srgb_to_linear(frame)


def _cover_crop(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centred region of the frame's aspect, resized to the frame. Cropping before
    resizing keeps a plate of extreme aspect (2 x 4000 px) from becoming a huge image."""
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    cw, ch = min(w, max(1, round(width / scale))), min(h, max(1, round(height / scale)))
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return _resize(np.ascontiguousarray(rgb[y0 : y0 + ch, x0 : x0 + cw], np.float32), (width, height))


MAX_PLATE_PIXELS = 100_000_000  # larger plates warn: they are read at reduced size
HARD_PLATE_PIXELS = 2_000_000_000  # larger claims are refused: no photo, likely a decompression bomb
STRIP_SAMPLES = 1 << 23  # float samples decoded per strip when streaming a large plate


def _read_jpeg_reduced(path: str, cover: tuple[int, int]) -> np.ndarray:
    """Decode a JPEG at the smallest DCT scale (1, 1/2, 1/4, 1/8) that still covers `cover`."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = HARD_PLATE_PIXELS  # our own limit was checked on the header
    try:
        with Image.open(path) as img:
            img.draft("RGB", cover)
            pixels = np.asarray(img.convert("RGB"), np.float32) / 255.0
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"comp.plate: cannot decode JPEG {path!r} (truncated or corrupt?): {err}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return pixels


def _read_oiio_reduced(inp, path: str, cover: tuple[int, int], factor: int) -> np.ndarray:
    """The smallest MIP level that covers the frame, read in strips and box-averaged by
    the remaining whole factor; a failed read (truncated file) is an InputError."""
    import OpenImageIO as oiio

    level, spec = 0, inp.spec()
    while inp.seek_subimage(0, level + 1) and inp.spec().width >= cover[0] and inp.spec().height >= cover[1]:
        level, spec = level + 1, inp.spec()
    inp.seek_subimage(0, level)
    w, h, nch = spec.width, spec.height, spec.nchannels
    factor = max(1, min(w // cover[0], h // cover[1], factor))
    # 8- and 16-bit files are read as stored (half the time of converting to float)
    native = {oiio.UINT8: 1 / 255, oiio.UINT16: 1 / 65535}
    fmt = spec.format.basetype if spec.format.basetype in native else oiio.FLOAT
    unit = native.get(fmt, 1.0) / factor**2
    block = factor * max(1, spec.tile_height)  # strips start on whole blocks and whole tiles
    step = block * max(1, STRIP_SAMPLES // (w * nch * block))
    usable_h, usable_w = h - h % factor, w - w % factor  # the cropped edge is under `factor` pixels
    rows = []
    for y in range(0, usable_h, step):
        y1 = min(y + step, usable_h)
        strip = _read_rows(inp, level, spec, y, y1, fmt)
        if strip is None or inp.has_error:
            reason = inp.geterror() or "read failed"
            raise InputError(f"comp.plate: cannot decode {path!r} (truncated or corrupt?): {reason}")
        # box average in two contiguous passes: rows of each block, then its columns
        summed = strip.reshape((y1 - y) // factor, factor, w * nch).sum(axis=1, dtype=np.float32)
        summed = summed.reshape(-1, w, nch)[:, :usable_w].reshape(len(summed), -1, factor, nch).sum(axis=2)
        rows.append(summed * unit)
    return np.concatenate(rows)


def _read_rows(inp, level: int, spec, y0: int, y1: int, fmt):
    """Rows y0..y1 of a MIP level, from scanlines or (tiled files) from whole rows of tiles."""
    if spec.tile_width <= 0:
        return inp.read_scanlines(0, level, spec.y + y0, spec.y + y1, spec.z, 0, spec.nchannels, fmt)
    th = spec.tile_height
    end = min(spec.height, -(-y1 // th) * th)  # tile reads end on a tile edge or the image's
    tiles = inp.read_tiles(
        0, level, spec.x, spec.x + spec.width, spec.y + y0, spec.y + end, spec.z, spec.z + 1, 0, spec.nchannels, fmt
    )
    return None if tiles is None else tiles.reshape(end - y0, spec.width, spec.nchannels)[: y1 - y0]


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import OpenImageIO as oiio

    if rgb.shape[1] == size[0] and rgb.shape[0] == size[1]:
        return rgb
    src = oiio.ImageBuf(oiio.ImageSpec(rgb.shape[1], rgb.shape[0], 3, oiio.FLOAT))
    src.set_pixels(oiio.ROI(), rgb)
    out = oiio.ImageBufAlgo.resize(src, roi=oiio.ROI(0, size[0], 0, size[1], 0, 1, 0, 3))
    return out.get_pixels(oiio.FLOAT)
