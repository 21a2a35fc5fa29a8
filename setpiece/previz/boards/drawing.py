"""Drawing a board: the scene's light for its time of day, beauty over a sky
ramp, glow, haze, pencil outlines from the id/depth/normal passes, and labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image, ImageDraw

from setpiece.artifacts import Passes
from setpiece.camera import Camera, sun_direction
from setpiece.color import sky_gradient
from setpiece.previz.boards.blocking import Blocking
from setpiece.previz.shotlist import Shot
from setpiece.previz.text import fit_text, load_font
from setpiece.vocab import DEFAULT_LIGHT, LIGHT_PRESETS, VFX_CATEGORIES

# Boards take sun and sky from setpiece.vocab.LIGHT_PRESETS (the scene's time of day)
# and expose for the light on a grey card tilted 45 degrees up towards the sun (so a
# low dawn sun neither leaves the ground black nor burns the walls it faces), times a
# key per preset: every hour reads, twilight a little darker, night dark and blue.
BOARD_KEY = {"night": 0.22, "dusk": 0.78, "dawn": 0.85, "golden hour": 0.9, "evening": 0.9, "overcast": 0.92}
GREY_CARD = 1.84  # exposed value of the metered light, before the key (day boards as before)
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec.709
SUN_AZIMUTH = 205.0  # from the camera side (-Y), a little from the left
INT_SUN_ELEVATION = 55.0  # rooms have no ceiling: a high key keeps walls from shading it all


@dataclass
class Board:
    """One drawn board and what it was drawn from (for tests and tools)."""

    image: Image.Image
    camera: Camera  # at the board's size, before any dutch roll
    passes: Passes  # at the board's size (AOVs point-sampled); part ids index blocking.parts
    blocking: Blocking
    roll: float = 0.0  # degrees the image is turned (dutch angle), counter-clockwise

    def coverage(self, label: str) -> float:
        """Share of the frame covered by parts whose label starts with ``label``."""
        ids = self.blocking.parts_labelled(label)
        return float(np.isin(self.passes.part, ids).mean()) if ids else 0.0


def board_light(blk: Blocking):
    """Sun direction, sun and sky colour, exposure for the scene's time of day."""
    preset = LIGHT_PRESETS.get(blk.lighting, LIGHT_PRESETS[DEFAULT_LIGHT])
    sun_rgb, sky_rgb = np.asarray(preset.sun_rgb), np.asarray(preset.sky_rgb)
    elevation = preset.sun_elevation if blk.exterior else max(preset.sun_elevation, INT_SUN_ELEVATION)
    sun = sun_direction(elevation, SUN_AZIMUTH if blk.exterior else SUN_AZIMUTH + 10)
    metered = LUMA @ sun_rgb * math.cos(math.radians(45.0 - elevation)) + LUMA @ sky_rgb
    exposure = GREY_CARD * BOARD_KEY.get(blk.lighting, 1.0) / max(float(metered), 1e-6)
    # irradiance: the preview shader applies Lambert's 1/pi to the sun, as the path tracer does
    return sun, sun_rgb * math.pi, sky_rgb, exposure


_SRGB_LUT = np.where(
    np.linspace(0, 1, 4096) <= 0.0031308,
    12.92 * np.linspace(0, 1, 4096),
    1.055 * np.linspace(0, 1, 4096) ** (1 / 2.4) - 0.055,
).astype(np.float32)


def _tonemap(linear: np.ndarray, exposure: float) -> np.ndarray:
    """A filmic curve (Narkowicz's ACES fit) and the sRGB encoding: the board look.

    Kept here rather than taken from setpiece.color (the comp's OCIO pipeline), so
    boards stay one fixed, cheap look whatever a shot's colour settings are."""
    x = np.maximum(linear * np.float32(exposure), 0.0)
    x = np.clip((x * (2.51 * x + 0.03)) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)
    return _SRGB_LUT[(x * 4095 + 0.5).astype(np.int32)]


SOFT_FX = tuple(f"fx:{name}" for name, c in VFX_CATEGORIES.items() if c.soft)  # faint silhouette, no inner lines
GLOW = {name: c.glow for name, c in VFX_CATEGORIES.items() if c.glow is not None}


def draw_board(passes: Passes, blk: Blocking, sky_rgb: np.ndarray, exposure: float) -> np.ndarray:
    """Beauty over a sky ramp, glow for fire, haze with distance, pencil outlines."""
    h, w = passes.alpha.shape
    f32 = np.float32
    beauty = np.array(passes.beauty, f32)
    alpha = np.asarray(passes.alpha, f32)[..., None]
    for group in blk.fx:
        for cat, part in group.parts.items():
            if cat in GLOW:
                mask = passes.part == part
                if mask.any():
                    col = beauty[mask]
                    lum = col.mean(axis=1, keepdims=True)
                    shade = f32(0.45) + lum / max(float(lum.max()), 1e-6)  # keep the facets' modelling
                    beauty[mask] = np.asarray(GLOW[cat], f32) * shade / f32(max(exposure, 0.1) / 0.6)
    sky_rgb = np.asarray(sky_rgb, f32)
    horizon = sky_rgb * f32(1.7) + f32(0.04)
    if blk.exterior:
        depth = np.minimum(np.asarray(passes.depth, f32), f32(1e4))
        haze = (1 - np.exp(depth * f32(-1 / 420.0)))[..., None]
        beauty += (horizon * alpha - beauty) * haze
    image = beauty + (1 - alpha) * sky_gradient(h, w, horizon, sky_rgb * f32(0.9))
    display = _tonemap(image, exposure)
    grey = display @ np.array([0.2126, 0.7152, 0.0722], f32)
    soft = np.array([k for label in SOFT_FX for k in blk.parts_labelled(label)], np.int32)
    ink = _outlines(passes, soft)
    keep = (1 - f32(0.62) * ink)[..., None]
    glowing = [p for g in blk.fx for c, p in g.parts.items() if c in GLOW]
    desat = np.where(np.isin(passes.part, glowing), f32(0.0), f32(0.28))[..., None] if glowing else f32(0.28)
    display = (display * (1 - desat) + grey[..., None] * desat) * keep
    return (np.clip(display, 0, 1) * 255 + 0.5).astype(np.uint8)


def _outlines(passes: Passes, soft: np.ndarray = np.zeros(0, np.int32)) -> np.ndarray:
    """Ink (0..1) on silhouettes (part id), folds (normals) and depth steps, 2 px wide;
    soft parts (dust, smoke) get only a faint silhouette."""
    part = passes.part
    depth = np.asarray(passes.depth, np.float32)
    normal = np.asarray(passes.normal, np.float32)
    inv = np.where(np.isfinite(depth), 1.0 / np.maximum(depth, 1e-3), 0.0).astype(np.float32)
    is_soft = np.isin(part, soft) if len(soft) else np.zeros(part.shape, bool)
    hard = np.zeros(part.shape, bool)
    faint = np.zeros(part.shape, bool)
    for axis in (0, 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        step = part[a] != part[b]
        solid = (part[a] != -1) & (part[b] != -1) & ~is_soft[a] & ~is_soft[b]
        fold = solid & (np.einsum("ijk,ijk->ij", normal[a], normal[b]) < 0.82)
        jump = solid & (np.abs(inv[a] - inv[b]) > 0.04 * np.maximum(inv[a], inv[b]) + 1e-4)
        cloud = step & (is_soft[a] | is_soft[b])
        e = (step & ~cloud) | fold | jump
        hard[a] |= e
        hard[b] |= e
        faint[a] |= cloud
        faint[b] |= cloud
    return np.where(hard, 1.0, np.where(faint, 0.3, 0.0)).astype(np.float32)


def _map_passes(passes: Passes, fn) -> Passes:
    """Apply fn to every pass (whatever passes the renderer returns)."""
    return Passes(**{f.name: fn(getattr(passes, f.name)) for f in fields(Passes)})


def point_sampled(passes: Passes, s: int) -> Passes:
    return _map_passes(passes, lambda a: a[::s, ::s])


def rotate_passes(passes: Passes, degrees: float) -> Passes:
    """Nearest-neighbour rotation of the passes, as the image was turned."""
    h, w = passes.part.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    a = math.radians(degrees)
    # PIL rotates counter-clockwise: the source of (x, y) is turned back by the angle
    sx = np.cos(a) * (xx - cx) - np.sin(a) * (yy - cy) + cx
    sy = np.sin(a) * (xx - cx) + np.cos(a) * (yy - cy) + cy
    sx, sy = np.clip(np.rint(sx), 0, w - 1).astype(int), np.clip(np.rint(sy), 0, h - 1).astype(int)
    return _map_passes(passes, lambda a: a[sy, sx])


def crop_passes(passes: Passes, box) -> Passes:
    x0, y0, x1, y1 = box
    return _map_passes(passes, lambda a: a[y0:y1, x0:x1])


def label_board(image: Image.Image, shot: Shot, blk: Blocking, passes: Passes, camera: Camera) -> None:
    """A small corner tag (shot, lens, angle) and name tags on people too small to tell."""
    w, h = image.size
    draw = ImageDraw.Draw(image, "RGBA")
    size = max(7, h // 30)
    font = load_font(size)
    pad = max(2, size // 3)
    angle = "" if shot.angle == "eye level" else f"  {shot.angle}"
    text = fit_text(f"{shot.number}  {shot.lens_mm:g}mm{angle}", font, w // 2)
    box = draw.textbbox((pad * 2, pad * 2), text, font=font)
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(0, 0, 0, 150))
    draw.text((pad * 2, pad * 2), text, font=font, fill=(255, 255, 255, 235))
    if h < 120 or not (shot.size in ("EWS", "WS") or shot.kind in ("master", "establishing")):
        return  # close shots: the caption names who is in them
    tags = []  # [x, top y, names] of everyone in a wide shot
    for name, actor in sorted(blk.actors.items(), key=lambda kv: kv[1].position[0]):
        ys, xs = np.nonzero(passes.part == actor.part)
        if len(ys) < 6:
            continue
        tags.append([float(xs.mean()), float(ys.min()) - pad, [name.title()]])
    merged: list[list] = []
    for tag in tags:  # neighbours whose tags would overlap share one
        if merged:
            last = merged[-1]
            width = draw.textlength(", ".join(last[2] + tag[2]), font=font)
            if tag[0] - last[0] < width / 2 + pad * 4:
                n = len(last[2])
                last[0] = (last[0] * n + tag[0]) / (n + 1)
                last[1] = min(last[1], tag[1])
                last[2] += tag[2]
                continue
        merged.append(tag)
    for x, y, names in merged:
        text = fit_text(" & ".join(names), font, w - 4 * pad)
        tw = draw.textlength(text, font=font)
        x = min(max(x, tw / 2 + pad), w - tw / 2 - pad)
        y = max(y, size + pad * 2)
        tb = draw.textbbox((x, y), text, font=font, anchor="mb")
        draw.rectangle((tb[0] - pad, tb[1] - 1, tb[2] + pad, tb[3] + 1), fill=(255, 255, 255, 170))
        draw.text((x, y), text, font=font, fill=(20, 20, 20, 255), anchor="mb")
