"""Dust as a volume: a ray marcher for the preview backend (and the final
backend's default dust), compositing, the cloud's shadow for the scene, and
Mitsuba `.vol` export for the path-traced option.

Light (precomputed once per frame as grids, so the march takes one
vector sample per step):
- single scattering of the sun with self-shadowing: the transmittance towards
  the sun from every cell, by sweeping slice by slice towards the sun, times a
  Henyey-Greenstein phase (forward-scattering dust);
- multiple scattering, approximated as in Wrenninge et al. 2013 ("Oz: the
  great and volumetric") and production cloud renderers: further octaves of the
  same sun term with extinction scaled by b^i and energy by a^i, lit isotropically
  and tinted by albedo^2. Deep inside a thick cloud the sun still arrives
  this way, so its own shadow is a soft grey, never black;
- sky: the transmittance straight up, with halved extinction (sky light also
  scatters in), over a floor for the light that arrives from every other side.

Detail: a 64-128^3 simulation is too coarse to read as dust up close, so each
sample's look-up point is displaced by a tiling vector noise and its density
modulated by it (pyroclastic edges: thin dust is eroded far more than the
dense core). The noise is a precomputed periodic texture whose coordinates
drift with the wind and rise with the billows in two phases that cross-fade
(flow noise), so detail moves with the cloud instead of swimming over it.
Light and extinction are displaced together, so self-shadowing stays
consistent with the detail.

The march (a few hundredths of a CPU second for a 640x360 frame) fills a
camera-aligned froxel grid, as the volumetric fog of game engines does (Wronski
2014, Hillaire 2015): one ray per column of 4x4 pixels marches the dust once,
in half-voxel steps, and keeps the light and opacity it has accumulated at 48
depths; each pixel then reads its four nearest columns at its own depth from
the rendered surfaces and blends them bilinearly. The holdout is therefore per
pixel (dust behind a surface never shows, the edge of a building in the cloud
stays sharp) while the dust is resolved at a quarter of the resolution along
each axis (fewer pixels per column in frames under 640 wide), still finer than
its detail. Each column's samples sit on a lattice fixed to the camera, offset
by a blue-noise tile: no banding, and once upsampled the offsets read as fine
grain, neither speckle nor a pattern. Empty space is skipped by 4^3-cell
blocks, and only the part of the grid that holds dust is lit and marched.

Brightness convention (a preview look): phase functions are relative to
isotropic, so sunlit thick dust comes out near the brightness of a matte
surface of the same albedo under sun_color, plus its multiple scattering.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import warp as wp
from scipy import ndimage

from setpiece.camera import Camera
from setpiece.errors import OutputError, RenderError
from setpiece.fx.smoke import OFF_C, resolve_device, sample

wp.set_module_options({"enable_backward": False, "default_grid_stride": False})

DEFAULT_SIGMA = 1.5  # extinction (1/m) at density 1
DEFAULT_G = 0.35  # Henyey-Greenstein anisotropy of dust (forward scattering)
MIN_TRANSMITTANCE = 1e-3  # a ray stops once this opaque (what lies behind still counts, a little)
MS_OCTAVES = 3  # multiple-scattering octaves after the single-scattering one
MS_ENERGY = 0.35  # a: energy of each further octave relative to the previous
MS_EXTINCTION = 0.35  # b: extinction of each further octave relative to the previous
SKY_FLOOR = 0.15  # share of the sky light that reaches any point of the cloud
NOISE_SIZE = 32  # texels per side of the periodic detail noise (small: it stays in cache)
NOISE_TILE = 16.0  # metres covered by one tile of it
NOISE_PERIOD = 2.5  # s: each flow-noise phase lives this long, then fades and restarts
NOISE_RISE = 1.2  # m/s: billows roll upwards through the noise
DETAIL = 1.0  # default strength of the render-time detail (0: the bare grid)
STEP = 0.5  # march step in voxels (dithered per march column)
MARCH_SCALE = 4  # pixels per march column along each axis, at most (see raymarch)
MIN_COLUMNS = 160  # ... and at least this many columns across the frame
RECORDS = 48  # depth slices per march column at which the accumulated dust is kept


@wp.func
def slab(origin: wp.vec3, d: wp.vec3, lo: wp.vec3, hi: wp.vec3) -> wp.vec2:
    """Entry and exit distances of a ray through a box (entry > exit: miss)."""
    t0 = float(-1.0e30)
    t1 = float(1.0e30)
    for a in range(3):
        if wp.abs(d[a]) < 1.0e-12:
            if origin[a] < lo[a] or origin[a] > hi[a]:
                return wp.vec2(1.0, 0.0)
        else:
            inv = 1.0 / d[a]
            ta = (lo[a] - origin[a]) * inv
            tb = (hi[a] - origin[a]) * inv
            t0 = wp.max(t0, wp.min(ta, tb))
            t1 = wp.min(t1, wp.max(ta, tb))
    return wp.vec2(t0, t1)


BLOCK = 4  # cells per side of the empty-space skipping blocks


@wp.struct
class View:
    origin: wp.vec3
    right: wp.vec3
    up: wp.vec3
    forward: wp.vec3
    half_w: float  # tan(fov_x / 2)
    half_h: float
    width: int
    height: int


@wp.struct
class Columns:
    """The march, done once per column of scale x scale pixels: the dust accumulated
    along each column's ray, kept at RECORDS depths (a camera-aligned froxel grid)."""

    scale: float  # pixels per column along each axis
    reach: wp.array2d(dtype=float)  # farthest depth that any pixel reading the column needs
    span: wp.array2d(dtype=wp.vec2)  # distance of record 0 and between records (0: no dust)
    acc: wp.array3d(dtype=wp.vec4)  # sun, multiple-scattering and sky light, opacity, up to each record
    dither: wp.array2d(dtype=float)  # blue-noise tile of segment offsets in [0, 1)
    shift: wp.vec2i  # this frame's place in it


@wp.struct
class Lighting:
    sun_dir: wp.vec3  # towards the sun
    sun: wp.vec3  # albedo * sun colour
    multi: wp.vec3  # albedo^2 * sun colour (light scattered more than once)
    sky: wp.vec3  # albedo * sky colour
    g: float


@wp.struct
class Medium:
    grid: wp.array3d(dtype=wp.vec4)  # extinction (1/m), times sun, multiple-scattering and sky light
    blocks: wp.array3d(dtype=wp.int32)  # 1 where a BLOCK^3 block can hold dust
    seen: wp.array3d(dtype=wp.uint8)  # 1 where a trilinear look-up's 2x2x2 cells hold any dust
    noise: wp.array3d(dtype=wp.vec4)  # periodic detail noise, zero mean, about unit spread (+1 wrap texel)
    lo: wp.vec3
    h: float
    box_lo: wp.vec3  # box around the dust (grown by the detail's reach)
    box_hi: wp.vec3
    step: float
    detail: float  # strength of the detail (0: none)
    flow: wp.vec3  # noise-space offset of this frame's flow noise (see _flow_noise)
    dense: float  # extinction (1/m) above which dust is eroded least


@wp.func
def ray_through(view: View, px: float, py: float) -> wp.vec3:
    """Same rays as Camera.rays(), through any point of the image plane in pixel units
    (pixel x's centre is x + 0.5; row 0 at the top)."""
    sx = (px / float(view.width) * 2.0 - 1.0) * view.half_w
    sy = (1.0 - py / float(view.height) * 2.0) * view.half_h
    return wp.normalize(view.forward + sx * view.right + sy * view.up)


@wp.func
def phase_hg(cos_theta: float, g: float) -> float:
    """Henyey-Greenstein phase relative to isotropic (1 when g = 0)."""
    return (1.0 - g * g) / wp.pow(1.0 + g * g - 2.0 * g * cos_theta, 1.5)


@wp.func
def block_exit(med: Medium, origin: wp.vec3, d: wp.vec3, t: float) -> float:
    """Distance at which the ray leaves the block holding point t, or -1 when
    that block may hold dust."""
    c = (origin + t * d - med.lo) / (med.h * float(BLOCK))
    bi = wp.clamp(int(wp.floor(c[0])), 0, med.blocks.shape[0] - 1)
    bj = wp.clamp(int(wp.floor(c[1])), 0, med.blocks.shape[1] - 1)
    bk = wp.clamp(int(wp.floor(c[2])), 0, med.blocks.shape[2] - 1)
    if med.blocks[bi, bj, bk] != 0:
        return -1.0
    size = med.h * float(BLOCK)
    lo = med.lo + wp.vec3(float(bi), float(bj), float(bk)) * size
    return slab(origin, d, lo, lo + wp.vec3(size, size, size))[1]


@wp.func
def noise_at(tex: wp.array3d(dtype=wp.vec4), u: wp.vec3) -> wp.vec4:
    """Trilinear, periodic look-up of the noise texture (u in texels). The texture's last
    texel repeats its first and its size is a power of two, so wrapping is a mask."""
    mask = tex.shape[0] - 2
    fx = wp.floor(u[0])
    fy = wp.floor(u[1])
    fz = wp.floor(u[2])
    tx = u[0] - fx
    ty = u[1] - fy
    tz = u[2] - fz
    i = int(fx) & mask
    j = int(fy) & mask
    k = int(fz) & mask
    i1 = i + 1
    j1 = j + 1
    k1 = k + 1
    a = wp.lerp(wp.lerp(tex[i, j, k], tex[i1, j, k], tx), wp.lerp(tex[i, j1, k], tex[i1, j1, k], tx), ty)
    b = wp.lerp(wp.lerp(tex[i, j, k1], tex[i1, j, k1], tx), wp.lerp(tex[i, j1, k1], tex[i1, j1, k1], tx), ty)
    return wp.lerp(a, b, tz)


@wp.func
def detail_noise(med: Medium, p: wp.vec3) -> wp.vec4:
    """Flow noise at world point p (the two phases are blended into one texture per frame)."""
    return noise_at(med.noise, p * (float(med.noise.shape[0] - 1) / NOISE_TILE) - med.flow)


@wp.func
def has_dust(med: Medium, p: wp.vec3) -> bool:
    """Whether a trilinear look-up of the grid at world point p (smoke.sample, which
    clamps to the edge cells) reads any dust: one byte instead of eight texels."""
    q = (p - med.lo) / med.h - OFF_C
    i = int(wp.floor(wp.clamp(q[0], -1.0, float(med.seen.shape[0] - 2)))) + 1
    j = int(wp.floor(wp.clamp(q[1], -1.0, float(med.seen.shape[1] - 2)))) + 1
    k = int(wp.floor(wp.clamp(q[2], -1.0, float(med.seen.shape[2] - 2)))) + 1
    return med.seen[i, j, k] != wp.uint8(0)


@wp.func
def dust_sample(med: Medium, p: wp.vec3) -> wp.vec4:
    """Extinction and its light terms at world point p, with the render-time detail."""
    if med.detail <= 0.0:
        return sample(med.grid, (p - med.lo) / med.h, OFF_C)
    if not has_dust(med, p):
        return wp.vec4(0.0)  # clear air stays clear: detail erodes and stirs dust, it does not add any
    n = detail_noise(med, p)
    warp_p = p + (0.9 * med.detail * med.h) * wp.vec3(n[0], n[1], n[2])
    s = sample(med.grid, (warp_p - med.lo) / med.h, OFF_C)
    # pyroclastic erosion: thin dust breaks up into billows, the dense core keeps its mass
    thin = 1.0 - wp.min(s[0] / med.dense, 1.0)
    grain = 1.0 + med.detail * (0.35 + 0.65 * thin) * n[3]
    return s * wp.clamp(grain, 0.0, 2.5)


@wp.func
def mix(a: wp.vec4, b: wp.vec4, f: float) -> wp.vec4:
    """a + f (b - a): exactly a where b equals a (the dust behind a column's last
    sample reads back bit for bit, whatever depth reads it)."""
    return a + f * (b - a)


@wp.func
def keep_records(cols: Columns, y: int, x: int, r: int, upto: float, before: wp.vec4, after: wp.vec4, ta: float) -> int:
    """Store the records from r on that lie at or before distance `upto`, the end of a
    segment that began at ta with `before` and ended with `after` (linear between).
    Returns the next record to store."""
    span = cols.span[y, x]
    n = cols.acc.shape[2]
    while r < n and span[0] + float(r) * span[1] <= upto:
        f = wp.clamp((span[0] + float(r) * span[1] - ta) / wp.max(upto - ta, 1.0e-12), 0.0, 1.0)
        cols.acc[y, x, r] = mix(before, after, f)
        r += 1
    return r


@wp.func
def opacity(tau: float) -> float:
    """1 - exp(-tau), accurate for the faintest dust too (float32 rounds exp(-1e-8) to 1)."""
    if tau < 1.0e-3:
        return tau * (1.0 - 0.5 * tau)
    return 1.0 - wp.exp(-tau)


@wp.kernel
def k_columns(med: Medium, view: View, cols: Columns, row0: int):
    """March one column's ray through the dust, up to the farthest surface any pixel
    reading it shows, keeping what has accumulated at each record's depth.

    Segments lie on a lattice fixed to the camera, (k + dither) steps from it, each
    sampled at its middle (the first and last are clipped to the box and the reach,
    their sample moved inside). So where a sample falls does not depend on the dust's
    box or on which blocks are skipped: the cloud does not shimmer as its box changes
    from frame to frame, and the detailed march samples wherever the bare one does
    (detail adds no dust where the bare grid has none)."""
    yy, x = wp.tid()
    y = yy + row0
    d = ray_through(view, (float(x) + 0.5) * cols.scale, (float(y) + 0.5) * cols.scale)
    box = slab(view.origin, d, med.box_lo, med.box_hi)
    t_in = wp.max(box[0], 0.0)
    t_end = wp.min(box[1], cols.reach[y, x])
    if t_end <= t_in:
        cols.span[y, x] = wp.vec2(0.0, 0.0)  # no dust in front of anything this column serves
        return
    last = cols.acc.shape[2] - 1
    cols.span[y, x] = wp.vec2(t_in, wp.max((t_end - t_in) / float(last), med.step))
    acc = wp.vec4(0.0)  # sun, multi, sky, opacity
    cols.acc[y, x, 0] = acc
    r = int(1)
    trans = float(1.0)
    tile = cols.dither.shape[0]
    jitter = cols.dither[(y + cols.shift[1]) % tile, (x + cols.shift[0]) % tile]
    k = int(wp.floor(t_in / med.step - jitter))
    while trans > MIN_TRANSMITTANCE:
        a = wp.max((float(k) + jitter) * med.step, t_in)
        if a >= t_end:
            break
        b = wp.min((float(k) + 1.0 + jitter) * med.step, t_end)
        mid = wp.clamp((float(k) + 0.5 + jitter) * med.step, t_in, t_end)
        skip_to = block_exit(med, view.origin, d, mid)
        if skip_to >= 0.0:  # an empty block: on to the segment where the ray leaves it
            k = wp.max(k + 1, int(wp.floor(skip_to / med.step - jitter)))
            continue
        r = keep_records(cols, y, x, r, a, acc, acc, a)
        s = dust_sample(med, view.origin + mid * d)
        alpha = opacity(s[0] * (b - a))
        weight = trans * alpha / wp.max(s[0], 1.0e-12)
        before = acc
        acc = wp.vec4(acc[0] + weight * s[1], acc[1] + weight * s[2], acc[2] + weight * s[3], acc[3] + trans * alpha)
        trans *= 1.0 - alpha
        r = keep_records(cols, y, x, r, b, before, acc, a)
        k += 1
    while r <= last:
        cols.acc[y, x, r] = acc
        r += 1


@wp.func
def column_at(cols: Columns, y: int, x: int, dist: float) -> wp.vec4:
    """What a column's ray accumulated up to distance `dist` (linear between records)."""
    span = cols.span[y, x]
    if span[1] <= 0.0:
        return wp.vec4(0.0)
    last = cols.acc.shape[2] - 1
    f = wp.clamp((dist - span[0]) / span[1], 0.0, float(last))
    k = wp.min(int(f), last - 1)
    return mix(cols.acc[y, x, k], cols.acc[y, x, k + 1], f - float(k))


@wp.kernel
def k_resolve(
    cols: Columns,
    view: View,
    light: Lighting,
    depth: wp.array2d(dtype=float),
    row0: int,
    out: wp.array2d(dtype=wp.vec4),
):
    """Premultiplied RGBA of the dust in front of each pixel's own depth: its four nearest
    columns, each read at that depth, blended bilinearly. The holdout is per pixel."""
    yy, x = wp.tid()
    y = yy + row0
    dist = depth[y, x]
    nx = cols.span.shape[1]
    ny = cols.span.shape[0]
    u = wp.clamp((float(x) + 0.5) / cols.scale - 0.5, 0.0, float(nx - 1))
    v = wp.clamp((float(y) + 0.5) / cols.scale - 0.5, 0.0, float(ny - 1))
    i = wp.min(int(u), nx - 2)
    j = wp.min(int(v), ny - 2)
    fu = u - float(i)
    near = mix(column_at(cols, j, i, dist), column_at(cols, j, i + 1, dist), fu)
    far = mix(column_at(cols, j + 1, i, dist), column_at(cols, j + 1, i + 1, dist), fu)
    acc = mix(near, far, v - float(j))
    d = ray_through(view, float(x) + 0.5, float(y) + 0.5)
    rgb = acc[0] * phase_hg(wp.dot(d, light.sun_dir), light.g) * light.sun + acc[1] * light.multi + acc[2] * light.sky
    out[y, x] = wp.vec4(rgb[0], rgb[1], rgb[2], acc[3])


class _Shift:
    """Bilinear resampling of (..., nb, nc) arrays at (j + ob, k + oc), `fill` outside
    (|ob|, |oc| <= 1), into a padded buffer allocated once for a whole sweep."""

    def __init__(self, shape: tuple[int, ...], offset: tuple[float, float], fill: float):
        ob, oc = offset
        jb, kc = math.floor(ob), math.floor(oc)
        self.fb, self.fc = np.float32(ob - jb), np.float32(oc - kc)
        self.pad = np.full((*shape[:-2], shape[-2] + 4, shape[-1] + 4), fill, np.float32)
        nb, nc = shape[-2:]
        self.inner = self.pad[..., 2 : 2 + nb, 2 : 2 + nc]
        rows = [slice(2 + jb + db, 2 + jb + db + nb) for db in (0, 1)]
        cols = [slice(2 + kc + dc, 2 + kc + dc + nc) for dc in (0, 1)]
        self.views = [self.pad[..., r, c] for r in rows for c in cols]

    def __call__(self, a: np.ndarray) -> np.ndarray:
        self.inner[...] = a
        v00, v01, v10, v11 = self.views
        fb, fc = self.fb, self.fc
        return (1 - fb) * ((1 - fc) * v00 + fc * v01) + fb * ((1 - fc) * v10 + fc * v11)


def sun_transmittance(extinction: np.ndarray, voxel_size: float, sun_dir) -> np.ndarray:
    """Transmittance from each cell centre towards the sun (cells outside are clear).

    Sweeps the grid slice by slice along the axis closest to the sun direction;
    one step towards the sun moves one slice on that axis and a fraction of a
    cell on the others, so each slice reads its neighbour bilinearly."""
    L = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
    axis = int(np.argmax(np.abs(L)))
    others = [a for a in range(3) if a != axis]
    ext = np.moveaxis(extinction, axis, 0).astype(np.float32)
    if L[axis] > 0:
        ext = ext[::-1]  # slice 0 faces the sun
    offset = (L[others[0]] / abs(L[axis]), L[others[1]] / abs(L[axis]))
    length = np.float32(voxel_size / abs(L[axis]))
    # each step's transmittance: the trapezoid of this slice's extinction and the
    # previous slice's where the step towards the sun lands (all slices at once)
    prev_ext = _Shift(ext.shape, offset, 0.0)(ext)
    steps = np.exp(-0.5 * length * (ext[1:] + prev_ext[:-1]))
    out = np.empty_like(ext)
    out[0] = np.exp(-0.5 * length * ext[0])
    shift = _Shift(ext.shape[1:], offset, 1.0)
    for s in range(1, len(ext)):
        np.multiply(shift(out[s - 1]), steps[s - 1], out=out[s])
    if L[axis] > 0:
        out = out[::-1]
    return np.moveaxis(out, 0, axis)


def sky_transmittance(extinction: np.ndarray, voxel_size: float) -> np.ndarray:
    """Transmittance straight up from each cell centre (a cheap sky occlusion)."""
    above = np.cumsum(extinction[:, :, ::-1], axis=2)[:, :, ::-1] - 0.5 * extinction
    return np.exp(-voxel_size * above).astype(np.float32)


def light_grid(extinction: np.ndarray, h: float, sun_dir) -> np.ndarray:
    """(nx, ny, nz, 4): extinction, and extinction times the sun's single-scattering
    transmittance, its multiple-scattering octaves and the sky term (see the module
    docstring). Premultiplied by extinction, so that interpolating next to a dense
    edge does not borrow the clear air's light."""
    sun = sun_transmittance(extinction, h, sun_dir)
    tau = -np.log(np.maximum(sun, 1e-30))
    multi = sum(MS_ENERGY**i * np.exp(-(MS_EXTINCTION**i) * tau) for i in range(1, MS_OCTAVES + 1))
    sky = SKY_FLOOR + (1.0 - SKY_FLOOR) * np.sqrt(sky_transmittance(extinction, h))
    return np.stack([extinction, extinction * sun, extinction * multi, extinction * sky], axis=-1).astype(np.float32)


def _visible(density: np.ndarray, sigma: float, h: float) -> np.ndarray:
    """Extinction (1/m) with the dust too thin to matter set to zero: below this, a ray
    across the whole grid loses less than MIN_TRANSMITTANCE."""
    extinction = np.multiply(density, sigma, dtype=np.float32)
    extinction[extinction <= MIN_TRANSMITTANCE / (h * sum(extinction.shape))] = 0.0
    return extinction


def _extent(dust: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The cells holding dust, grown by one cell (within the grid), as index ranges; None
    for none. A look-up beyond that margin reads only clear cells, as it would in the
    whole grid, so the march (and its light) need only this part of the grid."""
    columns = dust.any(axis=2)
    hits = [np.nonzero(a)[0] for a in (columns.any(axis=1), columns.any(axis=0), dust.any(axis=(0, 1)))]
    if not len(hits[0]):
        return None
    return tuple(slice(max(int(i[0]) - 1, 0), min(int(i[-1]) + 2, n)) for i, n in zip(hits, dust.shape))


def _blocks(dust: np.ndarray) -> np.ndarray:
    """Per BLOCK^3 block: 1 if it or a neighbouring block holds dust (a look-up reads
    cells up to one cell away, so a sample next to a dusty block counts too)."""
    padded = np.pad(dust, [(0, -n % BLOCK) for n in dust.shape])
    nb = [n // BLOCK for n in padded.shape]
    split = padded.reshape(nb[0], BLOCK, nb[1], BLOCK, nb[2], BLOCK)
    return ndimage.maximum_filter(split.any(axis=(1, 3, 5)), size=3, mode="constant").astype(np.int32)


def _seen(dust: np.ndarray) -> np.ndarray:
    """(nx+1, ny+1, nz+1): 1 where a trilinear look-up's 2x2x2 cells hold dust; entry
    i + 1 stands for the cells i and i + 1, and the grid is edge-extended by one cell,
    as smoke.sample clamps look-ups beyond the outer cell centres to the edge cells."""
    e = np.pad(dust, 1, mode="edge")
    n = [m - 1 for m in e.shape]
    seen = np.zeros(n, bool)
    for di in (0, 1):
        for dj in (0, 1):
            for dk in (0, 1):
                seen |= e[di : di + n[0], dj : dj + n[1], dk : dk + n[2]]
    return seen.astype(np.uint8)


def _view(camera: Camera) -> View:
    right, up, forward = camera.basis()
    view = View()
    view.origin = wp.vec3(*map(float, camera.position))
    view.right, view.up, view.forward = (wp.vec3(*map(float, v)) for v in (right, up, forward))
    view.half_w = math.tan(math.radians(camera.fov_x) / 2)
    view.half_h = view.half_w / camera.aspect
    view.width, view.height = camera.width, camera.height
    return view


def _lighting(sun_dir, sun_color, sky_color, albedo, g: float) -> Lighting:
    light = Lighting()
    albedo = np.asarray(albedo, float)
    light.sun_dir = wp.vec3(*map(float, sun_dir))
    light.sun = wp.vec3(*map(float, albedo * sun_color))
    light.multi = wp.vec3(*map(float, albedo**2 * sun_color))
    light.sky = wp.vec3(*map(float, albedo * sky_color))
    light.g = float(g)
    return light


_NOISE: dict[str, np.ndarray] = {}


def noise_texture() -> np.ndarray:
    """(N, N, N, 4) periodic band-limited noise, zero mean and unit spread per channel:
    three channels displace look-ups (billows), the fourth modulates density
    (grain). Built once from a fixed seed: the same detail on every run."""
    if "tex" not in _NOISE:
        rng = np.random.default_rng(20080811)  # fixed: detail is part of the look, not of the shot seed
        channels = []
        for _ in range(4):
            white = rng.standard_normal((NOISE_SIZE,) * 3)
            # octaves of wrapped Gaussian-filtered noise: wavelengths from the tile / 5 down to ~2 texels
            octaves = [ndimage.gaussian_filter(white, sigma, mode="wrap") for sigma in (3.0, 1.5, 0.8)]
            c = sum(w * o / o.std() for w, o in zip((1.0, 0.55, 0.3), octaves))
            channels.append((c - c.mean()) / c.std())
        _NOISE["tex"] = np.stack(channels, axis=-1).astype(np.float32)
    return _NOISE["tex"]


def _flow(time: float, wind) -> tuple[np.ndarray, np.ndarray, float]:
    """Noise-space offsets of the two flow-noise phases and phase 0's weight: both drift
    with the wind and rise; each restarts (from its own random place) when its weight is 0."""
    texel = NOISE_SIZE / NOISE_TILE
    drift = np.asarray(wind, float) * time
    offsets, weights = [], []
    for k in range(2):
        cycle = time / NOISE_PERIOD + 0.5 * k
        age = cycle - math.floor(cycle)  # 0..1 through this phase's life
        start = np.array([0.37, 0.71, 0.13]) * 97.0 * (math.floor(cycle) * 2 + k)
        rise = np.array([0.0, 0.0, NOISE_RISE * age * NOISE_PERIOD])
        offsets.append((drift + rise) * texel + start)
        weights.append(1.0 - abs(2.0 * age - 1.0))
    return offsets[0], offsets[1], weights[0] / max(weights[0] + weights[1], 1e-9)


def _flow_noise(time: float, wind) -> tuple[np.ndarray, np.ndarray]:
    """This frame's noise texture and the offset to look it up at (u - offset): the two
    phases' texture, phase 0 as it is and phase 1 shifted by the difference of their
    offsets, blended once here so that the march takes one look-up per sample."""
    flow0, flow1, fade = _flow(time, wind)
    tex = noise_texture()
    if fade < 1.0 - 1e-6:
        # phase 1 is read at u - flow1 = (u - flow0) - shift: the texture moved by shift
        tex = fade * tex + (1.0 - fade) * _wrap_shift(tex, flow1 - flow0)
    return np.pad(tex, [(0, 1)] * 3 + [(0, 0)], mode="wrap").astype(np.float32), flow0  # + wrap texel


def _wrap_shift(tex: np.ndarray, shift) -> np.ndarray:
    """out[x] = tex[x - shift], periodic and trilinear (ndimage.shift's grid-wrap, by rolls)."""
    for axis, amount in enumerate(shift):
        whole = math.floor(amount)
        frac = amount - whole
        moved = np.roll(tex, whole, axis=axis)
        tex = (1.0 - frac) * moved + frac * np.roll(moved, 1, axis=axis)
    return tex


def raymarch(
    density: np.ndarray,
    bounds_min,
    bounds_max,
    camera: Camera,
    sun_dir,
    sun_color=(1.0, 1.0, 1.0),
    sky_color=(0.3, 0.35, 0.45),
    depth: np.ndarray | None = None,
    step: float | None = None,
    albedo=(0.86, 0.84, 0.80),
    sigma: float = DEFAULT_SIGMA,
    g: float = DEFAULT_G,
    seed: int = 0,
    device: str = "auto",
    detail: float = 0.0,
    time: float = 0.0,
    wind=(0.0, 0.0, 0.0),
    scale: int | None = None,
) -> np.ndarray:
    """Render a density grid: (H, W, 4) float32, premultiplied linear RGBA.

    density: (nx, ny, nz) cell-centred on [bounds_min, bounds_max] (cubic cells).
    sun_dir: unit vector towards the sun. depth: (H, W) distance along each
    camera ray to the opaque scene (metres, inf for sky); marching stops
    there, so nearer geometry hides dust and nearer dust hides geometry.
    step: march step in metres (default STEP voxels); sigma: extinction (1/m) at
    density 1; albedo: single-scattering albedo (RGB, the dust's colour);
    g: Henyey-Greenstein anisotropy; seed: dither pattern; device: Warp
    device ("auto" picks CUDA when present). detail: strength of the
    render-time detail (0 renders the bare grid), time (s) and wind (m/s)
    move that detail with the cloud. scale: pixels per march column along each
    axis (default march_scale(width); 1 marches every pixel). A frame without
    dust comes back exactly zero."""
    density = np.asarray(density, np.float32)
    lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
    cell = (hi - lo) / np.array(density.shape)
    if density.ndim != 3 or not np.allclose(cell, cell[0], rtol=1e-3):
        raise RenderError(
            f"dust grid {density.shape} over box {tuple(lo)}..{tuple(hi)} does not "
            "have cubic cells; pass the DustFrame's own bounds"
        )
    h = float(cell[0])
    extinction = _visible(np.maximum(density, 0.0), sigma, h)
    crop = _extent(extinction > 0.0)
    if crop is None:
        return np.zeros((camera.height, camera.width, 4), np.float32)  # no dust: exactly clear
    extinction = np.ascontiguousarray(extinction[crop])
    dust = extinction > 0.0
    lo = lo + h * np.array([c.start for c in crop])
    sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
    device = resolve_device(device)
    copy = device != "cpu"  # on the CPU, Warp reads the numpy arrays in place
    med = Medium()
    med.grid = wp.array(light_grid(extinction, h, sun_dir), dtype=wp.vec4, device=device, copy=copy)
    med.blocks = wp.array(_blocks(dust), dtype=wp.int32, device=device, copy=copy)
    med.seen = wp.array(_seen(dust), dtype=wp.uint8, device=device, copy=copy)
    noise, flow = _flow_noise(time, wind)
    med.noise, med.flow = wp.array(noise, dtype=wp.vec4, device=device), wp.vec3(*flow)
    med.lo, med.h, med.step = wp.vec3(*lo), h, float(step or STEP * h)
    med.box_lo, med.box_hi = wp.vec3(*lo), wp.vec3(*(lo + h * np.array(extinction.shape)))
    med.detail, med.dense = float(detail), float(sigma)
    if depth is None:
        depth = np.full((camera.height, camera.width), np.inf, np.float32)
    depth = np.minimum(depth, 1e30).astype(np.float32)
    scale = int(scale or march_scale(camera.width))
    view = _view(camera)
    cols = _columns(depth, scale, device, seed)
    ny, nx = cols.reach.shape
    _launch_rows(k_columns, ny, nx, [med, view, cols], [], device)
    out = wp.empty((camera.height, camera.width), dtype=wp.vec4, device=device)
    light = _lighting(sun_dir, sun_color, sky_color, albedo, g)
    head = [cols, view, light, wp.array(depth, device=device)]
    _launch_rows(k_resolve, camera.height, camera.width, head, [out], device)
    return out.numpy()


def march_scale(width: int) -> int:
    """Pixels per march column: MARCH_SCALE, or fewer where the frame is too narrow to
    keep MIN_COLUMNS columns across it (the dust's detail needs that many)."""
    return max(1, min(MARCH_SCALE, width // MIN_COLUMNS))


DITHER_SIZE = 64  # texels per side of the blue-noise dither tile


def blue_noise() -> np.ndarray:
    """(64, 64) offsets in [0, 1), evenly spread and poor in low frequencies (blue-ish
    noise): white noise high-passed and ranked into a uniform spread, five times over.
    Neighbouring columns get different offsets, so the dither reads as fine grain,
    never as blotches (white noise) or a grid (a regular pattern such as interleaved
    gradient noise, which showed as a diagonal weave once upsampled)."""
    if "dither" not in _NOISE:
        tile = np.random.default_rng(20141112).standard_normal((DITHER_SIZE, DITHER_SIZE))
        for _ in range(5):
            high = tile - ndimage.gaussian_filter(tile, 1.0, mode="wrap")
            tile = (np.argsort(np.argsort(high, axis=None)).reshape(high.shape) + 0.5) / high.size
        _NOISE["dither"] = tile.astype(np.float32)
    return _NOISE["dither"]


def _columns(depth: np.ndarray, scale: int, device: str, seed: int = 0) -> Columns:
    """The march columns for a frame: one per scale x scale pixels, centred on them, one
    more on the right and bottom edges so every pixel lies between four. A column is
    read by the pixels of the blocks around it; it marches as far as the farthest of them."""
    height, width = depth.shape
    ny, nx = (math.floor((n - 0.5) / scale - 0.5) + 2 for n in (height, width))
    by, bx = -(-height // scale), -(-width // scale)
    tiles = np.zeros((max(by, ny) + 1, max(bx, nx) + 1), np.float32)
    padded = np.zeros((by * scale, bx * scale), np.float32)
    padded[:height, :width] = depth
    tiles[:by, :bx] = padded.reshape(by, scale, bx, scale).max(axis=(1, 3))
    reach = ndimage.maximum_filter(tiles, size=3, mode="constant", cval=0.0)[:ny, :nx]
    cols = Columns()
    cols.scale = float(scale)
    cols.reach = wp.array(np.ascontiguousarray(reach), dtype=float, device=device)
    cols.span = wp.empty((ny, nx), dtype=wp.vec2, device=device)
    cols.acc = wp.empty((ny, nx, RECORDS), dtype=wp.vec4, device=device)
    cols.dither = wp.array(blue_noise(), dtype=float, device=device)
    cols.shift = wp.vec2i(*(int(v) for v in np.random.default_rng(seed).integers(0, DITHER_SIZE, 2)))
    return cols


_POOL: dict[int, ThreadPoolExecutor] = {}  # per process: a forked child does not inherit the threads


def _launch_rows(kernel, height: int, width: int, head: list, tail: list, device: str) -> None:
    """Launch kernel(*head, first_row, *tail) over all rows: on the CPU, as bands on
    worker threads (Warp runs a CPU launch on one thread and releases the GIL), so every
    core works; more bands than threads, as the dust covers some rows more than others."""
    threads = min(os.cpu_count() or 1, 8)
    if device != "cpu" or height < 16 or threads == 1:
        wp.launch(kernel, dim=(height, width), inputs=[*head, 0, *tail], device=device)
        return
    wp.load_module(kernel.module, device=device)
    pool = _POOL.get(os.getpid())
    if pool is None:
        _POOL.clear()
        pool = _POOL[os.getpid()] = ThreadPoolExecutor(threads, thread_name_prefix="dust-march")
    edges = np.linspace(0, height, 4 * threads + 1).astype(int)
    jobs = [
        pool.submit(wp.launch, kernel, dim=(int(b - a), width), inputs=[*head, int(a), *tail], device=device)
        for a, b in zip(edges[:-1], edges[1:])
        if b > a
    ]
    for job in jobs:
        job.result()


def ray_distance(zdepth: np.ndarray, camera: Camera) -> np.ndarray:
    """Convert view-space depth (along the camera axis) to distance along each ray
    (Camera.rays(): a ray's direction is forward + sx right + sy up, normalised)."""
    half_w = math.tan(math.radians(camera.fov_x) / 2)
    half_h = half_w / camera.aspect
    sx = ((np.arange(camera.width) + 0.5) / camera.width * 2 - 1) * half_w
    sy = (1 - (np.arange(camera.height) + 0.5) / camera.height * 2) * half_h
    stretch = np.sqrt(1.0 + sy[:, None] ** 2 + sx[None, :] ** 2).astype(np.float32)
    return np.asarray(zdepth, np.float32) * stretch


def composite_over(rgba_premult: np.ndarray, beauty_rgb: np.ndarray) -> np.ndarray:
    """Premultiplied dust over the beauty pass (the depth holdout is already in
    the dust's alpha)."""
    alpha = rgba_premult[..., 3:4]
    return (rgba_premult[..., :3] + (1.0 - alpha) * beauty_rgb).astype(np.float32)


# ----------------------------------------------------------- Mitsuba .vol

VOL_HEADER = struct.Struct("<3sBiiiii6f")  # 'VOL', version 3, float32, res xyz, channels, bbox


def write_vol(density: np.ndarray, bounds_min, bounds_max, path: str | os.PathLike) -> Path:
    """Write a Mitsuba 3 `gridvolume` file (binary .vol, version 3, float32, 1 channel).

    Mitsuba maps the grid to the unit cube unless the volume has
    `use_grid_bbox=True` (or a `to_world`, see `vol_to_world`). The file is
    written atomically."""
    data = np.asarray(density, np.float32)
    nx, ny, nz = data.shape
    header = VOL_HEADER.pack(b"VOL", 3, 1, nx, ny, nz, 1, *map(float, bounds_min), *map(float, bounds_max))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(np.ascontiguousarray(data.transpose(2, 1, 0)).tobytes())  # x fastest
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write dust volume {path}: {exc}; check the folder is writable") from exc
    return path


def read_vol(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a 1-channel float32 .vol: (density (nx, ny, nz), bounds_min, bounds_max)."""
    raw = Path(path).read_bytes()
    magic, version, encoding, nx, ny, nz, channels, *box = VOL_HEADER.unpack_from(raw)
    if magic != b"VOL" or version != 3 or encoding != 1 or channels != 1:
        raise OutputError(f"{path} is not a 1-channel float32 Mitsuba .vol (version 3)")
    data = np.frombuffer(raw, np.float32, nx * ny * nz, VOL_HEADER.size)
    return data.reshape(nz, ny, nx).transpose(2, 1, 0).copy(), np.array(box[:3]), np.array(box[3:])


def vol_to_world(bounds_min, bounds_max) -> np.ndarray:
    """4x4 `to_world` placing a gridvolume's unit cube on the dust box."""
    lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
    m = np.diag([*(hi - lo), 1.0])
    m[:3, 3] = lo
    return m


def dust_albedo(material: str) -> tuple[float, float, float]:
    """The dust colour (single-scattering albedo) of a building material."""
    from setpiece.vocab import DUST_COLOR

    return DUST_COLOR.get(material, DUST_COLOR["concrete"])


def dust_layer(dust, passes, scene, spec, detail: float = DETAIL) -> np.ndarray:
    """Ray-marched dust with its detail, premultiplied RGBA, held out by the rendered
    surfaces; lit by the same sun (irradiance / pi, as a matte surface) and sky as
    the building; coloured by the building's material. detail=0: the bare grid, as
    the path-traced medium sees it."""
    light, cam = spec.light, scene.camera
    return raymarch(
        np.asarray(dust.density, np.float32),
        dust.bounds_min,
        dust.bounds_max,
        cam,
        scene.sun_dir,
        np.asarray(light.sun_color) * light.sun_intensity / np.pi,
        np.asarray(light.sky_color) * light.sky_intensity,
        depth=ray_distance(passes.depth, cam),
        albedo=dust_albedo(spec.building.material),
        seed=dust.index,
        device=spec.render.device,
        detail=detail,
        time=dust.time,
        wind=spec.dust.wind,
    )


def dust_sun_transmittance(dust, sun_dir, sigma: float = DEFAULT_SIGMA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cloud's shadow: (T, bounds_min, bounds_max), T (nx, ny, nz) float32 the
    fraction of sunlight that reaches each cell centre through the dust of `dust`
    (a DustFrame), T = 1 in clear air.

    To shadow the building and debris, sample T at world points with
    `sample_sun_transmittance(T, bounds_min, bounds_max, points)` (trilinear,
    1 outside the box) and multiply the sun's contribution by it; on the GPU,
    upload T as a 3D texture and look it up at (p - bounds_min) / (bounds_max -
    bounds_min) with linear filtering and a clamp-to-border of 1. The grid is
    the dust grid (0.3-1 m cells): the shadow is soft, as a cloud's is."""
    density = np.asarray(dust.density, np.float32)
    lo, hi = np.asarray(dust.bounds_min, float), np.asarray(dust.bounds_max, float)
    h = float((hi[0] - lo[0]) / density.shape[0])
    sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
    return sun_transmittance(sigma * np.maximum(density, 0.0), h, sun_dir).astype(np.float32), lo, hi


def sample_sun_transmittance(trans: np.ndarray, bounds_min, bounds_max, points) -> np.ndarray:
    """Sun transmittance at world points (..., 3), trilinear in the grid of
    `dust_sun_transmittance`; 1 outside the dust box."""
    lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
    pts = np.asarray(points, float)
    idx = (pts - lo) / ((hi - lo) / np.array(trans.shape)) - 0.5  # cell-centre index space
    flat = idx.reshape(-1, 3).T
    values = ndimage.map_coordinates(trans, flat, order=1, mode="nearest")
    inside = np.all((pts.reshape(-1, 3) >= lo) & (pts.reshape(-1, 3) <= hi), axis=1)
    return np.where(inside, values, 1.0).reshape(pts.shape[:-1]).astype(np.float32)
