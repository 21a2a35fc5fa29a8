"""The physical sky both backends share: a lat-long radiance map, its ambient light and haze.

The radiance comes from Mitsuba 3's `sunsky` emitter (the Hosek-Wilkie sky
model, maintained there), evaluated once per shot into a lat-long map in the
scalar variant, so the preview needs no JIT and both backends see the very
same sky: the preview samples the map (background, glass reflections) and
lights with its spherical-harmonic irradiance; the final backend hands the
same map to Mitsuba as an `envmap` emitter. The sun itself stays a
directional light (shadow maps, `light.sun_*`); the map holds only the sky.

Map layout (ours, Z-up): column u = azimuth / 360 (0 = +Y, clockwise, as
`light.sun_azimuth`), row v = (90 - elevation) / 180 (row 0 the zenith).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MAP_W, MAP_H = 256, 128
GROUND_ALBEDO = 0.12  # what the lower hemisphere reflects (asphalt and paving)
HAZE_DISTANCE = 900.0  # m over which 63% of a distant surface's light is replaced by haze


@dataclass(frozen=True)
class Sky:
    radiance: np.ndarray  # (MAP_H, MAP_W, 3) linear RGB, our lat-long layout
    sh: np.ndarray  # (9, 3) irradiance SH coefficients (cosine-convolved), E(n) = sum sh_i Y_i(n)
    sun_dir: np.ndarray  # unit, towards the sun
    haze_distance: float = HAZE_DISTANCE

    def lookup(self, dirs: np.ndarray) -> np.ndarray:
        """Radiance seen along unit world directions (..., 3), bilinear in the map."""
        return _bilinear(self.radiance, *_dir_to_uv(dirs))

    def irradiance(self, normals: np.ndarray) -> np.ndarray:
        """Irradiance from the whole sky on surfaces facing `normals` (..., 3)."""
        return np.maximum(_sh_basis(normals) @ self.sh, 0.0)

    def background(self, camera) -> np.ndarray:
        """(H, W, 3) what the camera sees of the sky behind everything (the sky is smooth:
        looked up at a quarter of the size and interpolated)."""
        return _upsample(self.lookup(_coarse_rays(camera)), camera.height, camera.width)

    def haze_color(self, dirs: np.ndarray) -> np.ndarray:
        """In-scattered light along a view ray: the sky just above the horizon in that direction."""
        flat = np.array(dirs, float)
        flat[..., 2] = np.clip(flat[..., 2], 0.03, 0.3)
        flat /= np.linalg.norm(flat, axis=-1, keepdims=True)
        return self.lookup(flat)


def make_sky(light, turbidity: float = 3.0) -> Sky:
    """The sky of a spec's [light] section, scaled so its irradiance on open ground equals
    that of the flat sky it replaces (pi * sky_intensity * luminance of sky_color)."""
    from setpiece.camera import sun_direction

    sun = sun_direction(light.sun_elevation, light.sun_azimuth)
    level = float(light.sky_intensity * np.dot(light.sky_color, (0.2126, 0.7152, 0.0722)))
    sun_irr = float(light.sun_intensity * max(sun[2], 0.0) * np.dot(light.sun_color, (0.2126, 0.7152, 0.0722)))
    radiance = _sky_map(float(light.sun_elevation), float(light.sun_azimuth), float(turbidity), level, sun_irr)
    return Sky(radiance, _sh_project(radiance), sun)


@lru_cache(maxsize=8)
def _sky_map(elevation: float, azimuth: float, turbidity: float, level: float, sun_irr: float) -> np.ndarray:
    from setpiece.camera import sun_direction

    dirs = map_directions()
    upper = dirs[..., 2] > 0
    sky = np.zeros(dirs.shape, np.float32)
    sky[upper] = _hosek_wilkie(dirs[upper], sun_direction(elevation, azimuth), turbidity)
    up_irr = _upper_irradiance(sky)
    if up_irr > 0:
        sky *= np.pi * level / up_irr
    # the lower hemisphere: open ground lit by the sun and this sky, seen from afar
    ground = GROUND_ALBEDO * (sun_irr + np.pi * level) / np.pi
    sky[~upper] = ground * np.array([1.0, 0.97, 0.92])
    return sky


def _hosek_wilkie(dirs: np.ndarray, sun: np.ndarray, turbidity: float) -> np.ndarray:
    """Sky radiance (no sun disc) from Mitsuba's sunsky emitter, in its scalar variant
    (no LLVM needed); the active variant is restored, so a live final backend is unaffected."""
    import mitsuba as mi

    previous = mi.variant()
    mi.set_variant("scalar_rgb")
    try:
        emitter = mi.load_dict(
            {"type": "sunsky", "sun_direction": [float(v) for v in sun], "turbidity": turbidity, "sun_scale": 0.0}
        )
        si = mi.SurfaceInteraction3f()
        out = np.empty((len(dirs), 3), np.float32)
        for i, d in enumerate(dirs):
            si.wi = mi.Vector3f(-float(d[0]), -float(d[1]), -float(d[2]))
            out[i] = np.asarray(emitter.eval(si), np.float32)
        return out
    finally:
        if previous:
            mi.set_variant(previous)


def map_directions(width: int = MAP_W, height: int = MAP_H) -> np.ndarray:
    """Unit direction of each map pixel centre, (height, width, 3)."""
    az = (np.arange(width) + 0.5) / width * 2 * np.pi
    el = np.pi / 2 - (np.arange(height) + 0.5) / height * np.pi
    ce = np.cos(el)[:, None]
    return np.stack(
        [ce * np.sin(az)[None, :], ce * np.cos(az)[None, :], np.broadcast_to(np.sin(el)[:, None], (height, width))],
        -1,
    )


def _solid_angles(height: int, width: int) -> np.ndarray:
    el = np.pi / 2 - (np.arange(height) + 0.5) / height * np.pi
    return (np.cos(el) * (np.pi / height) * (2 * np.pi / width))[:, None] * np.ones((1, width))


def _upper_irradiance(sky: np.ndarray) -> float:
    dirs = map_directions(sky.shape[1], sky.shape[0])
    w = _solid_angles(*sky.shape[:2]) * np.maximum(dirs[..., 2], 0.0)
    lum = sky @ np.array([0.2126, 0.7152, 0.0722])
    return float((lum * w).sum())


def _dir_to_uv(dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(dirs, float)
    u = (np.arctan2(d[..., 0], d[..., 1]) / (2 * np.pi)) % 1.0
    v = (np.pi / 2 - np.arcsin(np.clip(d[..., 2], -1, 1))) / np.pi
    return u, v


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    x, y = u * w - 0.5, np.clip(v * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x1, y1 = (x0 + 1) % w, np.minimum(y0 + 1, h - 1)
    x0 %= w
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _sh_basis(n: np.ndarray) -> np.ndarray:
    """Real spherical harmonics up to l = 2, (..., 9)."""
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    return np.stack(
        [
            0.282095 * np.ones_like(x),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3 * z * z - 1),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        -1,
    )


def _sh_project(radiance: np.ndarray) -> np.ndarray:
    """Irradiance SH (Ramamoorthi & Hanrahan 2001): radiance projected, convolved with cosine."""
    dirs = map_directions(radiance.shape[1], radiance.shape[0])
    basis = _sh_basis(dirs) * _solid_angles(*radiance.shape[:2])[..., None]
    coeffs = np.einsum("hwk,hwc->kc", basis, radiance)
    band = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5)
    return (coeffs * band[:, None]).astype(np.float32)


def aerial_perspective(beauty: np.ndarray, alpha: np.ndarray, depth: np.ndarray, camera, sky: Sky) -> np.ndarray:
    """Distant surfaces fade into the haze: light lost over the ray's length is replaced
    by the sky's in-scattered colour (premultiplied, so only covered pixels get haze)."""
    dist = np.where(np.isfinite(depth), depth, 0.0) / _cos_to_axis(camera)
    fade = 1.0 - np.exp(-dist / sky.haze_distance)
    haze = _upsample(sky.haze_color(_coarse_rays(camera)), camera.height, camera.width)
    out = beauty * (1.0 - fade[..., None]) + haze * (fade * alpha)[..., None]
    return out.astype(np.float32)


@lru_cache(maxsize=16)
def flat_sky(color: tuple[float, float, float]) -> Sky:
    """A uniform sky of one radiance (boards and props), with a dim ground below the horizon."""
    dirs = map_directions(32, 16)
    radiance = np.where(dirs[..., 2:] > 0, np.asarray(color, np.float32), 0.2 * np.asarray(color, np.float32))
    radiance = radiance.astype(np.float32)
    return Sky(radiance, _sh_project(radiance), np.array([0.0, 0.0, 1.0]))


_BACKGROUNDS: dict = {}


def background(sky: Sky, camera) -> np.ndarray:
    """sky.background(camera), remembered for the last few cameras (a locked-off shot has one)."""
    key = (id(sky), camera)
    if key not in _BACKGROUNDS:
        if len(_BACKGROUNDS) > 4:
            _BACKGROUNDS.clear()
        _BACKGROUNDS[key] = sky.background(camera)
    return _BACKGROUNDS[key]


COARSE = 4  # the sky and haze colours are looked up on a grid this many times coarser


def _coarse_rays(camera) -> np.ndarray:
    import dataclasses

    w, h = -(-camera.width // COARSE), -(-camera.height // COARSE)
    return dataclasses.replace(camera, width=w, height=h).rays()[1]


@lru_cache(maxsize=8)
def _cos_to_axis(camera) -> np.ndarray:
    """Per pixel, cos of the angle between its ray and the view axis (z depth to distance)."""
    _, dirs = camera.rays()
    return np.maximum(dirs @ np.asarray(camera.basis()[2]), 1e-3)


def _upsample(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Blocks of COARSE x COARSE pixels from the coarse grid: the sky changes far less than
    a display step over a block, and this costs a copy where interpolation costs a frame."""
    big = np.repeat(np.repeat(img.astype(np.float32), COARSE, axis=0), COARSE, axis=1)
    return big[:height, :width]
