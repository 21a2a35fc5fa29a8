"""Dust volume rendering: coverage, holdout, lighting, compositing, .vol export."""

import os
import struct

import numpy as np
import pytest
from scipy import ndimage

from setpiece.camera import Camera
from setpiece.errors import RenderError
from setpiece.fx.volume import (
    DITHER_SIZE,
    blue_noise,
    composite_over,
    march_scale,
    ray_distance,
    raymarch,
    read_vol,
    sun_transmittance,
    vol_to_world,
    write_vol,
)

LO, HI = np.array([-4.0, -4.0, 0.0]), np.array([4.0, 4.0, 8.0])  # 16^3 cells of 0.5 m
CAMERA = Camera(position=(3.0, -20.0, 6.0), target=(0.0, 0.0, 4.0), width=96, height=64)
SUN = (0.0, -0.6, 0.8)


def cube_density(first: int, last: int, value: float = 50.0) -> np.ndarray:
    density = np.zeros((16, 16, 16), np.float32)
    density[first:last, first:last, first:last] = value
    return density


def ray_hits(box_lo, box_hi) -> np.ndarray:
    """Which camera pixels' rays pass through a box (slab test)."""
    origin, dirs = CAMERA.rays()
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = (np.asarray(box_lo) - origin) / dirs
        tb = (np.asarray(box_hi) - origin) / dirs
    near = np.minimum(ta, tb).max(axis=-1)
    far = np.maximum(ta, tb).min(axis=-1)
    return far > np.maximum(near, 0.0)


def test_empty_grid_is_fully_transparent():
    rgba = raymarch(np.zeros((16, 16, 16), np.float32), LO, HI, CAMERA, SUN)
    assert rgba.shape == (64, 96, 4) and rgba.dtype == np.float32
    assert not rgba.any()


def test_dense_cube_is_opaque_exactly_where_it_projects():
    h = 0.5
    rgba = raymarch(cube_density(5, 11), LO, HI, CAMERA, SUN)
    alpha = rgba[..., 3]
    cube_lo, cube_hi = LO + 5 * h, LO + 11 * h
    inside = ray_hits(cube_lo + 0.6 * h, cube_hi - 0.6 * h)  # within a cell of the faces
    outside = ~ray_hits(cube_lo - 0.6 * h, cube_hi + 0.6 * h)
    assert inside.sum() > 50
    assert alpha[inside].min() > 0.99
    assert alpha[outside].max() == 0.0
    assert np.all(rgba[..., :3][outside] == 0.0)
    assert np.all(rgba[..., :3] <= alpha[..., None] + 1e-6)  # premultiplied


@pytest.mark.parametrize("scale", [1, 4])  # every pixel marched; one march per 4x4 pixels
def test_depth_holdout_hides_dust_behind_opaque_surfaces(scale):
    density = cube_density(5, 11)
    wall = np.full((64, 96), np.inf, np.float32)
    wall[:, :50] = 5.0  # an opaque surface 5 m away covers the left half (its edge inside a column)
    rgba = raymarch(density, LO, HI, CAMERA, SUN, depth=wall, scale=scale)
    free = raymarch(density, LO, HI, CAMERA, SUN, scale=scale)
    assert free[:, :50, 3].max() > 0.9
    assert rgba[:, :50, 3].max() == 0.0  # dust behind the wall is held out
    assert np.array_equal(rgba[:, 50:], free[:, 50:])
    behind = raymarch(density, LO, HI, CAMERA, SUN, depth=np.full((64, 96), 40.0, np.float32), scale=scale)
    assert np.array_equal(behind, free)  # dust in front of a far surface covers it


BALL_CAMERA = Camera(position=(0.0, -20.0, 4.0), target=(0.0, 0.0, 4.0), width=192, height=128)


def ball_density(value: float, radius: float = 2.5) -> np.ndarray:
    """A soft ball of dust in the middle of the 16^3 box, densest at its centre."""
    c = (np.indices((16, 16, 16)) + 0.5) * 0.5 + LO[:, None, None, None]
    d = np.linalg.norm(c - np.array([0.0, 0.0, 4.0])[:, None, None, None], axis=0)
    return (value * np.clip(1.5 - d / radius, 0.0, 1.0)).astype(np.float32)


@pytest.mark.parametrize("detail", [0.0, 1.0])
def test_marching_once_per_4x4_pixels_matches_marching_every_pixel(detail):
    args = (ball_density(3.0), LO, HI, BALL_CAMERA, (0.5, -0.5, 0.7), (3, 3, 3))
    every = raymarch(*args, scale=1, detail=detail, time=0.5)
    quarter = raymarch(*args, scale=4, detail=detail, time=0.5)
    error = np.abs(quarter - every)
    # measured 0.004 (alpha) and 0.006 (rgb); the same image 4 pixels off differs by 0.018
    assert error[..., 3].mean() < 0.008 and error[..., :3].mean() < 0.012
    assert np.array_equal(quarter, raymarch(*args, scale=4, detail=detail, time=0.5))  # deterministic


def test_a_surface_inside_the_cloud_cuts_it_at_its_own_pixel_edge():
    wall = np.full((128, 192), np.inf, np.float32)
    wall[:, :98] = 20.0  # through the middle of the ball; the edge falls inside a column of 4
    args = (ball_density(0.4), LO, HI, BALL_CAMERA, (0.5, -0.5, 0.7), (3, 3, 3))
    held = raymarch(*args, depth=wall, scale=4)
    free = raymarch(*args, scale=4)
    every = raymarch(*args, depth=wall, scale=1)
    assert np.array_equal(held[:, 98:], free[:, 98:])  # beside the surface: untouched
    assert held[64, 97, 3] < free[64, 97, 3] - 0.1  # its last pixel already loses the dust behind it
    covered = free[:, :98, 3] > 0.5
    assert held[:, :98, 3][covered].mean() < 0.9 * free[:, :98, 3][covered].mean()
    assert np.abs(held - every)[..., 3].max() < 0.06  # as marching every pixel to its own depth


def test_the_march_keeps_at_least_160_columns_across():
    assert [march_scale(w) for w in (96, 320, 480, 640, 1920)] == [1, 2, 3, 4, 4]


def test_march_offsets_are_blue_noise():
    """Evenly spread offsets poor in low frequencies: upsampled 4x they read as fine grain,
    where white noise clumps into blotches and a regular pattern shows as a grid."""
    tile = blue_noise()
    assert tile.shape == (DITHER_SIZE, DITHER_SIZE)
    assert np.allclose(np.sort(tile, axis=None), (np.arange(tile.size) + 0.5) / tile.size)
    white = np.random.default_rng(0).random(tile.shape)
    blotches = ndimage.uniform_filter(tile, 4, mode="wrap").std()  # 4x4 means: what an upsample shows
    assert blotches < 0.5 * ndimage.uniform_filter(white, 4, mode="wrap").std()  # measured 0.41
    spectrum = np.abs(np.fft.fft2(tile - tile.mean())) ** 2
    assert spectrum.max() < 20 * spectrum.mean()  # no dominant frequency (interleaved gradient noise: 690)


def test_sunlit_side_is_brighter_than_the_shadowed_side():
    camera = Camera(position=(0.0, -20.0, 4.0), target=(0.0, 0.0, 4.0), width=96, height=64)
    density = cube_density(4, 12, value=4.0)
    rgba = raymarch(density, LO, HI, camera, sun_dir=(1.0, 0.0, 0.0), sun_color=(3, 3, 3), sky_color=(0, 0, 0), g=0.0)
    covered = rgba[..., 3] > 0.9
    lum = rgba[..., :3].mean(axis=-1)
    cols = np.nonzero(covered.any(axis=0))[0]
    third = len(cols) // 3
    left = lum[:, cols[:third]][covered[:, cols[:third]]].mean()  # -x side, away from the sun
    right = lum[:, cols[-third:]][covered[:, cols[-third:]]].mean()  # +x side, facing it
    assert right > 3 * left


def test_mismatched_bounds_are_refused():
    with pytest.raises(RenderError, match="cubic"):
        raymarch(np.ones((16, 16, 8), np.float32), LO, HI, CAMERA, SUN)


def test_sun_transmittance_matches_beer_lambert_for_an_axis_sun():
    ext = np.random.default_rng(0).uniform(0, 2, (6, 5, 7)).astype(np.float32)
    trans = sun_transmittance(ext, 0.5, (0.0, 0.0, 1.0))
    tau = 0.5 * (np.cumsum(ext[:, :, ::-1], axis=2)[:, :, ::-1] - 0.5 * ext)
    assert np.allclose(trans, np.exp(-tau), rtol=1e-4)


def test_ray_distance_converts_view_depth():
    point = np.array([[1.0, 2.0, 5.0]])
    px, py, zdepth = CAMERA.project(point)[0]
    zmap = np.full((64, 96), zdepth)
    dist = ray_distance(zmap, CAMERA)[int(py), int(px)]
    assert dist == pytest.approx(np.linalg.norm(point[0] - CAMERA.position), rel=0.02)


def test_composite_over_premultiplied():
    dust = np.zeros((2, 2, 4), np.float32)
    dust[0, 0] = (0.2, 0.2, 0.2, 0.5)
    beauty = np.ones((2, 2, 3), np.float32)
    out = composite_over(dust, beauty)
    assert np.allclose(out[0, 0], 0.7) and np.allclose(out[1, 1], 1.0)


def test_write_vol_round_trips_mitsuba_layout(tmp_path):
    density = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    path = write_vol(density, (-1, -2, 0), (1, 1, 4), tmp_path / "dust" / "f0001.vol")
    raw = path.read_bytes()
    assert raw[:4] == b"VOL\x03"
    assert struct.unpack_from("<5i", raw, 4) == (1, 2, 3, 4, 1)  # float32, x y z, 1 channel
    assert struct.unpack_from("<6f", raw, 24) == (-1, -2, 0, 1, 1, 4)
    values = np.frombuffer(raw, np.float32, offset=48)
    assert values[1] == density[1, 0, 0]  # x varies fastest
    assert values[2] == density[0, 1, 0]
    back, lo, hi = read_vol(path)
    assert np.array_equal(back, density) and np.allclose(lo, (-1, -2, 0)) and np.allclose(hi, (1, 1, 4))
    assert [p.name for p in path.parent.iterdir()] == ["f0001.vol"]  # no temp file left
    assert np.allclose(vol_to_world((-1, -2, 0), (1, 1, 4)) @ [1, 1, 1, 1], (1, 1, 4, 1))


def test_mitsuba_loads_the_vol_as_a_gridvolume(tmp_path):
    mi = pytest.importorskip("mitsuba")
    previous = mi.variant()
    mi.set_variant("scalar_rgb")  # needs no LLVM
    try:
        check_gridvolume(mi, tmp_path)
    finally:
        if previous:
            mi.set_variant(previous)


def check_gridvolume(mi, tmp_path):
    density = np.random.default_rng(1).uniform(0, 1, (3, 4, 5)).astype(np.float32)
    path = write_vol(density, (-1, 0, 2), (2, 4, 7), tmp_path / "d.vol")
    grid = np.array(mi.VolumeGrid(os.fspath(path))).reshape(5, 4, 3)  # z, y, x
    assert np.allclose(grid.transpose(2, 1, 0), density)
    volume = mi.load_dict({"type": "gridvolume", "filename": os.fspath(path), "use_grid_bbox": True})
    assert volume.max() == pytest.approx(float(density.max()))
    box = volume.bbox()
    assert np.allclose([box.min[i] for i in range(3)], (-1, 0, 2))
    assert np.allclose([box.max[i] for i in range(3)], (2, 4, 7))


@pytest.mark.gpu
def test_cuda_march_matches_cpu():
    density = cube_density(4, 12, value=0.8)
    cpu = raymarch(density, LO, HI, CAMERA, SUN, device="cpu")
    gpu = raymarch(density, LO, HI, CAMERA, SUN, device="cuda")
    assert np.allclose(cpu, gpu, atol=1e-3)
