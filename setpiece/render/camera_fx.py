"""Camera effects: shake driven by the sim's impacts, and depth of field.

Shake: each impact or break sends a jolt that decays over a fraction of a
second, scaled by its energy and by how far from the camera it happened; the
camera's aim wobbles with smooth seeded noise at that strength (a handheld or
tripod camera on shaking ground). Deterministic: the shot's seed picks the noise.

Depth of field: a thin-lens circle of confusion from the depth pass, applied
as a gather blur over a few blur levels (scipy), so a wide shot can hold
focus on the building while the far street softens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from setpiece.camera import Camera

JOLT_DECAY = 0.35  # s
MAX_ANGLE = 0.006  # rad of aim wobble at full strength and shake = 1
REFERENCE_ENERGY = 2.0e5  # J: a few tonnes landing at 10 m/s


def shake_strength(events, camera: Camera, times: np.ndarray) -> np.ndarray:
    """0..1 per time: how hard the ground under the camera shakes."""
    eye = np.asarray(camera.position, float)
    total = np.zeros(len(times))
    for e in events:
        if e.kind == "crack":
            continue
        dist = np.linalg.norm(np.asarray(e.position, float) - eye)
        jolt = np.log1p(e.energy / REFERENCE_ENERGY) / (1.0 + (dist / 40.0) ** 2)
        after = times - e.time
        total += np.where(after >= 0, jolt * np.exp(-np.maximum(after, 0) / JOLT_DECAY), 0.0)
    return 1.0 - np.exp(-total)


def shake_cameras(spec, camera: Camera, events) -> Callable[[int], Camera]:
    """frame -> the shaken camera of that frame."""
    frames = spec.shot.frames
    times = np.arange(frames + 1) / spec.shot.fps
    strength = shake_strength(events, camera, times) * spec.camera.shake
    rng = np.random.default_rng(spec.shot.seed + 404)
    freqs = rng.uniform(3.0, 11.0, size=(2, 4))
    phases = rng.uniform(0, 2 * np.pi, size=(2, 4))
    wobble = np.sin(2 * np.pi * freqs[:, :, None] * times[None, None, :] + phases[:, :, None]).sum(axis=1) / 2.0
    right, up, forward = camera.basis()
    dist = np.linalg.norm(np.subtract(camera.target, camera.position))
    cache: dict[int, Camera] = {}

    def at(frame: int) -> Camera:
        k = int(np.clip(frame, 0, frames))
        if strength[k] < 1e-4:
            return camera
        if k not in cache:
            yaw, pitch = wobble[:, k] * strength[k] * MAX_ANGLE
            target = np.asarray(camera.target, float) + (right * yaw + up * pitch) * dist
            cache[k] = dataclasses.replace(camera, target=tuple(map(float, target)))
        return cache[k]

    return at


def depth_of_field(
    rgb: np.ndarray, depth: np.ndarray, focal_mm: float, sensor_mm: float, fstop: float, focus: float
) -> np.ndarray:
    """Thin-lens depth of field: each pixel is blurred by its circle of confusion (pixels),
    picked from a stack of Gaussian blurs; sky (inf depth) counts as infinitely far."""
    from scipy.ndimage import gaussian_filter

    if fstop <= 0:
        return rgb
    h, w = depth.shape
    f = focal_mm / 1000.0
    aperture = f / fstop
    z = np.where(np.isfinite(depth), np.maximum(depth, 0.05), 1e6)
    coc_m = aperture * f * np.abs(z - focus) / (z * max(focus - f, 1e-3))
    coc_px = coc_m / (sensor_mm / 1000.0) * w  # diameter
    sigma = np.clip(coc_px / 2.5, 0.0, 12.0)
    levels = np.array([0.0, 0.75, 1.5, 3.0, 6.0, 12.0])
    if sigma.max() < 0.3:
        return rgb
    stack = [rgb] + [np.dstack([gaussian_filter(rgb[..., c], s) for c in range(3)]) for s in levels[1:]]
    idx = np.clip(np.searchsorted(levels, sigma) - 1, 0, len(levels) - 2)
    lo = levels[idx]
    t = np.clip((sigma - lo) / (levels[idx + 1] - lo), 0.0, 1.0)[..., None]
    out = np.zeros_like(rgb)
    for k in range(len(levels) - 1):
        sel = (idx == k)[..., None]
        out += np.where(sel, stack[k] * (1 - t) + stack[k + 1] * t, 0.0)
    return out.astype(np.float32)
