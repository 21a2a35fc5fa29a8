"""Dust as a volume: a ray marcher for the preview backend (and the final
backend's default dust), compositing, the cloud's shadow for the scene, and
Mitsuba `.vol` export for the path-traced option.

Light (precomputed once per frame as grids, so the per-pixel march takes one
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
STEP = 1.0  # march step in voxels (dithered per pixel)


@wp.func
def hash01(x: int, y: int, seed: int) -> float:
    """Deterministic per-pixel dither in [0, 1)."""
    state = wp.rand_init(seed, y * 65536 + x)
    return wp.randf(state)


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
    noise: wp.array3d(dtype=wp.vec4)  # periodic detail noise, zero mean, about unit spread
    lo: wp.vec3
    h: float
    box_lo: wp.vec3  # box around the dust (grown by the detail's reach)
    box_hi: wp.vec3
    step: float
    detail: float  # strength of the detail (0: none)
    flow: wp.vec3  # noise-space offset of this frame's flow noise (see _flow_noise)
    dense: float  # extinction (1/m) above which dust is eroded least


@wp.func
def ray_dir(view: View, x: int, y: int) -> wp.vec3:
    """Same rays as Camera.rays(): through pixel centres, row 0 at the top."""
    sx = ((float(x) + 0.5) / float(view.width) * 2.0 - 1.0) * view.half_w
    sy = (1.0 - (float(y) + 0.5) / float(view.height) * 2.0) * view.half_h
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
    """Trilinear, periodic look-up of the noise texture (u in texels)."""
    n = tex.shape[0]
    fx = wp.floor(u[0])
    fy = wp.floor(u[1])
    fz = wp.floor(u[2])
    tx = u[0] - fx
    ty = u[1] - fy
    tz = u[2] - fz
    fn = float(n)
    i0 = int(fx - wp.floor(fx / fn) * fn) % n
    j0 = int(fy - wp.floor(fy / fn) * fn) % n
    k0 = int(fz - wp.floor(fz / fn) * fn) % n
    i1 = (i0 + 1) % n
    j1 = (j0 + 1) % n
    k1 = (k0 + 1) % n
    a = wp.lerp(wp.lerp(tex[i0, j0, k0], tex[i1, j0, k0], tx), wp.lerp(tex[i0, j1, k0], tex[i1, j1, k0], tx), ty)
    b = wp.lerp(wp.lerp(tex[i0, j0, k1], tex[i1, j0, k1], tx), wp.lerp(tex[i0, j1, k1], tex[i1, j1, k1], tx), ty)
    return wp.lerp(a, b, tz)


@wp.func
def detail_noise(med: Medium, p: wp.vec3) -> wp.vec4:
    """Flow noise at world point p (the two phases are blended into one texture per frame)."""
    return noise_at(med.noise, p * (float(med.noise.shape[0]) / NOISE_TILE) - med.flow)


@wp.func
def dust_sample(med: Medium, p: wp.vec3) -> wp.vec4:
    """Extinction and its light terms at world point p, with the render-time detail."""
    bare = sample(med.grid, (p - med.lo) / med.h, OFF_C)
    if med.detail <= 0.0 or bare[0] <= 0.0:
        return bare  # clear air stays clear: detail erodes and stirs dust, it does not add any
    n = detail_noise(med, p)
    warp_p = p + (0.9 * med.detail * med.h) * wp.vec3(n[0], n[1], n[2])
    s = sample(med.grid, (warp_p - med.lo) / med.h, OFF_C)
    # pyroclastic erosion: thin dust breaks up into billows, the dense core keeps its mass
    thin = 1.0 - wp.min(s[0] / med.dense, 1.0)
    grain = 1.0 + med.detail * (0.35 + 0.65 * thin) * n[3]
    return s * wp.clamp(grain, 0.0, 2.5)


@wp.kernel
def k_march(
    med: Medium,
    view: View,
    light: Lighting,
    depth: wp.array2d(dtype=float),
    seed: int,
    row0: int,
    out: wp.array2d(dtype=wp.vec4),
):
    """Premultiplied RGBA of the dust along one camera ray, up to `depth`."""
    yy, x = wp.tid()
    y = yy + row0
    d = ray_dir(view, x, y)
    span = slab(view.origin, d, med.box_lo, med.box_hi)
    t = wp.max(span[0], 0.0)
    t_end = wp.min(span[1], depth[y, x])
    sun = float(0.0)
    multi = float(0.0)
    sky = float(0.0)
    trans = float(1.0)
    jitter = hash01(x, y, seed) * med.step  # dithered segment ends hide banding
    seg = jitter
    while t < t_end and trans > MIN_TRANSMITTANCE:
        skip_to = block_exit(med, view.origin, d, t)
        if skip_to >= 0.0:
            t = wp.max(skip_to, t) + 1.0e-3 * med.h
            seg = jitter
            continue
        seg = wp.min(seg, t_end - t)
        if seg > 0.0:
            s = dust_sample(med, view.origin + (t + 0.5 * seg) * d)
            alpha = 1.0 - wp.exp(-s[0] * seg)
            weight = trans * alpha / wp.max(s[0], 1.0e-12)
            sun += weight * s[1]
            multi += weight * s[2]
            sky += weight * s[3]
            trans *= 1.0 - alpha
        t += seg
        seg = med.step
    rgb = sun * phase_hg(wp.dot(d, light.sun_dir), light.g) * light.sun + multi * light.multi + sky * light.sky
    out[y, x] = wp.vec4(rgb[0], rgb[1], rgb[2], 1.0 - trans)


def _shift2d(a: np.ndarray, offset: tuple[float, float], fill: float) -> np.ndarray:
    """a sampled at (j + ob, k + oc) bilinearly, `fill` outside."""
    ob, oc = offset
    jb, kc = math.floor(ob), math.floor(oc)
    fb, fc = ob - jb, oc - kc
    pad = np.pad(a, 2, constant_values=fill)
    nb, nc = a.shape

    def view(db: int, dc: int) -> np.ndarray:
        return pad[2 + jb + db : 2 + jb + db + nb, 2 + kc + dc : 2 + kc + dc + nc]

    return (1 - fb) * ((1 - fc) * view(0, 0) + fc * view(0, 1)) + fb * ((1 - fc) * view(1, 0) + fc * view(1, 1))


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
    length = voxel_size / abs(L[axis])
    out = np.empty_like(ext)
    tau = 0.5 * length * ext[0]
    out[0] = np.exp(-tau)
    for s in range(1, len(ext)):
        prev_trans = _shift2d(out[s - 1], offset, 1.0)
        prev_ext = _shift2d(ext[s - 1], offset, 0.0)
        out[s] = prev_trans * np.exp(-0.5 * length * (ext[s] + prev_ext))
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


def _occupied(extinction: np.ndarray, h: float, grow: int = 1) -> np.ndarray:
    """Cells whose dust can matter optically, grown by `grow` cells so that
    trilinear (and detail-displaced) samples next to them count too."""
    limit = MIN_TRANSMITTANCE / (h * sum(extinction.shape))
    return ndimage.binary_dilation(extinction > limit, np.ones((3, 3, 3), bool), iterations=grow)


def _blocks(mask: np.ndarray) -> np.ndarray:
    """Per BLOCK^3 block: 1 if any cell in it is occupied."""
    padded = np.pad(mask, [(0, -n % BLOCK) for n in mask.shape])
    nb = [n // BLOCK for n in padded.shape]
    split = padded.reshape(nb[0], BLOCK, nb[1], BLOCK, nb[2], BLOCK)
    return split.any(axis=(1, 3, 5)).astype(np.int32)


def _box(mask: np.ndarray, lo: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    first = [np.nonzero(mask.any(axis=tuple(b for b in range(3) if b != a)))[0][[0, -1]] for a in range(3)]
    return (lo + np.array([f[0] for f in first]) * h, lo + (np.array([f[1] for f in first]) + 1) * h)


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
    if fade >= 1.0 - 1e-6:
        return tex, flow0
    shift = flow1 - flow0  # phase 1 is read at u - flow1 = (u - flow0) - shift; ndimage: out[x] = in[x - shift]
    moved = np.stack([ndimage.shift(tex[..., c], shift, order=1, mode="grid-wrap") for c in range(4)], axis=-1)
    return (fade * tex + (1.0 - fade) * moved).astype(np.float32), flow0


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
    move that detail with the cloud."""
    density = np.asarray(density, np.float32)
    lo, hi = np.asarray(bounds_min, float), np.asarray(bounds_max, float)
    cell = (hi - lo) / np.array(density.shape)
    if density.ndim != 3 or not np.allclose(cell, cell[0], rtol=1e-3):
        raise RenderError(
            f"dust grid {density.shape} over box {tuple(lo)}..{tuple(hi)} does not "
            "have cubic cells; pass the DustFrame's own bounds"
        )
    h = float(cell[0])
    extinction = sigma * np.maximum(density, 0.0)
    mask = _occupied(extinction, h, grow=2 if detail > 0 else 1)
    if not mask.any():
        return np.zeros((camera.height, camera.width, 4), np.float32)
    sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
    device = resolve_device(device)
    med = Medium()
    med.grid = wp.array(light_grid(extinction, h, sun_dir), dtype=wp.vec4, device=device)
    med.blocks = wp.array(_blocks(mask), dtype=wp.int32, device=device)
    noise, flow = _flow_noise(time, wind)
    med.noise, med.flow = wp.array(noise, dtype=wp.vec4, device=device), wp.vec3(*flow)
    med.lo, med.h, med.step = wp.vec3(*lo), h, float(step or STEP * h)
    med.box_lo, med.box_hi = (wp.vec3(*b) for b in _box(mask, lo, h))
    med.detail, med.dense = float(detail), float(sigma)
    if depth is None:
        depth = np.full((camera.height, camera.width), np.inf, np.float32)
    out = wp.empty((camera.height, camera.width), dtype=wp.vec4, device=device)
    inputs = [
        med,
        _view(camera),
        _lighting(sun_dir, sun_color, sky_color, albedo, g),
        wp.array(np.minimum(depth, 1e30).astype(np.float32), device=device),
        int(seed),
    ]
    _launch_rows(k_march, camera.height, camera.width, inputs, out, device)
    return out.numpy().astype(np.float32, copy=False)


def _launch_rows(kernel, height: int, width: int, inputs: list, out, device: str) -> None:
    """Launch over all rows: on the CPU, as bands on worker threads (Warp runs a CPU
    launch on one thread and releases the GIL), so every core marches."""
    if device != "cpu" or height < 16:
        wp.launch(kernel, dim=(height, width), inputs=[*inputs, 0, out], device=device)
        return
    bands = min(os.cpu_count() or 1, 8) * 2
    edges = np.linspace(0, height, bands + 1).astype(int)
    spans = [(int(a), int(b - a)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    wp.launch(kernel, dim=(spans[0][1], width), inputs=[*inputs, spans[0][0], out], device=device)  # loads the module
    with ThreadPoolExecutor(bands // 2) as pool:
        jobs = [
            pool.submit(wp.launch, kernel, dim=(rows, width), inputs=[*inputs, first, out], device=device)
            for first, rows in spans[1:]
        ]
        for job in jobs:
            job.result()


def ray_distance(zdepth: np.ndarray, camera: Camera) -> np.ndarray:
    """Convert view-space depth (along the camera axis) to distance along each ray."""
    _, dirs = camera.rays()
    return np.asarray(zdepth) / (dirs @ camera.basis()[2])


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
