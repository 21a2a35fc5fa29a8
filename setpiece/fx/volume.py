"""Dust as a volume: a ray marcher for the preview backend, compositing, and
Mitsuba `.vol` export for the final backend.

Lighting is single scattering of the sun (Henyey-Greenstein phase) with a
shadow term plus an ambient sky term. Both light terms are precomputed once
per frame as grids, so the per-pixel march takes one vector sample per step:
the sun transmittance by sweeping slice by slice towards the sun, the sky
transmittance by a running sum straight up. Empty 4^3 blocks are skipped.

Brightness convention (a preview look): the phase function is taken relative
to isotropic, so sunlit thick dust comes out near the brightness of a matte
surface of the same albedo under sun_color. Mitsuba's physically based
medium (phase 1/4pi) renders the same albedo darker; use a higher albedo
(0.8-0.9) there.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import warp as wp
from scipy import ndimage

from setpiece.camera import Camera
from setpiece.errors import OutputError, RenderError
from setpiece.fx.smoke import resolve_device, sample_vec

wp.set_module_options({"enable_backward": False, "default_grid_stride": False})

DEFAULT_SIGMA = 1.5  # extinction (1/m) at density 1
DEFAULT_G = 0.35  # Henyey-Greenstein anisotropy of dust (forward scattering)
MIN_TRANSMITTANCE = 1e-3  # a ray stops once this opaque


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
    sky: wp.vec3  # albedo * sky colour
    g: float


@wp.struct
class Medium:
    grid: wp.array3d(dtype=wp.vec3)  # extinction (1/m), times sun and sky transmittance
    blocks: wp.array3d(dtype=wp.int32)  # 1 where a BLOCK^3 block can hold dust
    lo: wp.vec3
    h: float
    box_lo: wp.vec3  # box around the dust
    box_hi: wp.vec3
    step: float


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


@wp.kernel
def k_march(
    med: Medium, view: View, light: Lighting, depth: wp.array2d(dtype=float), seed: int, out: wp.array2d(dtype=wp.vec4)
):
    """Premultiplied RGBA of the dust along one camera ray, up to `depth`."""
    y, x = wp.tid()
    d = ray_dir(view, x, y)
    span = slab(view.origin, d, med.box_lo, med.box_hi)
    t = wp.max(span[0], 0.0)
    t_end = wp.min(span[1], depth[y, x])
    sun = float(0.0)
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
            s = sample_vec(med.grid, (view.origin + (t + 0.5 * seg) * d - med.lo) / med.h)
            alpha = 1.0 - wp.exp(-s[0] * seg)
            weight = trans * alpha / wp.max(s[0], 1.0e-12)
            sun += weight * s[1]
            sky += weight * s[2]
            trans *= 1.0 - alpha
        t += seg
        seg = med.step
    rgb = sun * phase_hg(wp.dot(d, light.sun_dir), light.g) * light.sun + sky * light.sky
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


def _occupied(extinction: np.ndarray, h: float) -> np.ndarray:
    """Cells whose dust can matter optically, grown by one cell so that
    trilinear samples next to them count too."""
    limit = MIN_TRANSMITTANCE / (h * sum(extinction.shape))
    return ndimage.binary_dilation(extinction > limit, np.ones((3, 3, 3), bool))


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
    light.sun_dir = wp.vec3(*map(float, sun_dir))
    light.sun = wp.vec3(*map(float, np.multiply(albedo, sun_color)))
    light.sky = wp.vec3(*map(float, np.multiply(albedo, sky_color)))
    light.g = float(g)
    return light


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
    albedo=(0.55, 0.5, 0.45),
    sigma: float = DEFAULT_SIGMA,
    g: float = DEFAULT_G,
    seed: int = 0,
    device: str = "auto",
) -> np.ndarray:
    """Render a density grid: (H, W, 4) float32, premultiplied linear RGBA.

    density: (nx, ny, nz) cell-centred on [bounds_min, bounds_max] (cubic cells).
    sun_dir: unit vector towards the sun. depth: (H, W) distance along each
    camera ray to the opaque scene (metres, inf for sky); marching stops
    there, so nearer geometry hides dust and nearer dust hides geometry.
    step: march step in metres (default one cell); sigma: extinction (1/m) at
    density 1; g: Henyey-Greenstein anisotropy; seed: dither pattern;
    device: Warp device ("auto" picks CUDA when present)."""
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
    mask = _occupied(extinction, h)
    if not mask.any():
        return np.zeros((camera.height, camera.width, 4), np.float32)
    sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
    # light terms premultiplied by extinction, so that interpolating next to a
    # dense edge does not borrow the clear air's light
    grid = np.stack(
        [
            extinction,
            extinction * sun_transmittance(extinction, h, sun_dir),
            extinction * sky_transmittance(extinction, h),
        ],
        axis=-1,
    )
    device = resolve_device(device)
    med = Medium()
    med.grid = wp.array(grid.astype(np.float32), dtype=wp.vec3, device=device)
    med.blocks = wp.array(_blocks(mask), dtype=wp.int32, device=device)
    med.lo, med.h, med.step = wp.vec3(*lo), h, float(step or h)
    med.box_lo, med.box_hi = (wp.vec3(*b) for b in _box(mask, lo, h))
    if depth is None:
        depth = np.full((camera.height, camera.width), np.inf, np.float32)
    out = wp.empty((camera.height, camera.width), dtype=wp.vec4, device=device)
    wp.launch(
        k_march,
        dim=(camera.height, camera.width),
        device=device,
        inputs=[
            med,
            _view(camera),
            _lighting(sun_dir, sun_color, sky_color, albedo, g),
            wp.array(np.minimum(depth, 1e30).astype(np.float32), device=device),
            int(seed),
            out,
        ],
    )
    return out.numpy().astype(np.float32, copy=False)


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


DUST_ALBEDO = (0.85, 0.8, 0.72)  # pale concrete dust


def dust_layer(dust, passes, scene, spec) -> np.ndarray:
    """Ray-marched dust, premultiplied RGBA, held out by the rendered surfaces; lit
    by the same sun (irradiance / pi, as a matte surface) and sky as the building."""
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
        albedo=DUST_ALBEDO,
        seed=dust.index,
        device=spec.render.device,
    )
