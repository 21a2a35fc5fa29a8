"""Dust: a grid smoke solver sourced from the sim's break and impact events.

Staggered (MAC) grid with cubic voxels, world Z-up in metres. Per step:
MacCormack advection of dust density (semi-Lagrangian for heat), RK2
semi-Lagrangian advection of velocity along the same traces, buoyancy (heat
lifts, dust weighs), vorticity confinement, then pressure projection. The
ground (z = ground_z) is a closed free-slip wall, so dust pushed down rolls
outward along it; the other sides are open (dust leaves, pressure is zero at
the face) unless `closed=True`.

The kernels are NVIDIA Warp, so the same code runs on the CPU and on CUDA.
Projection is exact on the CPU (a fast sine/cosine transform Poisson solve,
scipy.fft) and a fixed number of red-black SOR sweeps on the GPU (or on the
CPU with pressure="iterative"). On the CPU the flow is solved only in an
active box grown around the dust (early in a collapse a small part of the
grid; quiet air beyond it). Everything is deterministic for a seed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.fft as sfft
import warp as wp

from setpiece.artifacts import DustFrame, Event
from setpiece.errors import SetpieceError

wp.config.log_level = max(wp.config.log_level, 30)  # no init banner
wp.set_module_options({"enable_backward": False, "default_grid_stride": False})

BURST_TIME = 0.4  # s over which one event releases its dust
# The one place dust strength is tuned: m^3 of unit-density dust per joule of an
# event's kinetic energy, by kind (a crack parts slowly and grinds little;
# pulverised members and hard impacts make the most). dust.amount scales all.
# Density 1 is a dense cloud (extinction DEFAULT_SIGMA = 1.5 per metre, see
# fx/volume.py): tens of it made every voxel an opaque step and the heavy
# dust's pull (dust_weight x density) crushed the ground front into one cell.
DUST_PER_JOULE = {"impact": 1e-3, "break": 8e-4, "crack": 2e-4}
# Warm, turbulent air carried with each unit of dust, by kind: storey bursts
# billow up, ground impacts mostly roll out as a heavy front.
HEAT_PER_DUST = {"impact": 0.05, "break": 0.5, "crack": 0.3}
FRAGMENT_DENSITY = 2400.0  # kg/m^3 (concrete) to size bursts from mass
MAX_BURST_RADIUS = 6.0  # m
MIN_CELLS = 4  # per axis
MAX_MASS_FIX = 1.25  # bound on the per-step density rescale
ACTIVE_MARGIN, ACTIVE_MARGIN_SHARE = 4, 1 / 12  # cells of quiet air kept around the dust
ACTIVE_DENSITY = 1e-4  # dust (or heat) below this does not hold the active box open
BALL_INTEGRAL = 4 * math.pi * 16 / 315  # integral of (1 - d^2)^3 over the unit ball

_STATE = {"ready": False}
_THREADS = max(1, min(os.cpu_count() or 1, 8))
_POOL = ThreadPoolExecutor(_THREADS, thread_name_prefix="dust")


def _band_edges(n: int) -> list[int]:
    """Split 0..n into one band per CPU thread (one band for small grids)."""
    count = _THREADS if n >= 8 * _THREADS else 1
    return [round(n * b / count) for b in range(count + 1)]


def _init_warp() -> None:
    if not _STATE["ready"]:
        wp.init()
        _STATE["ready"] = True


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when Warp sees a CUDA GPU, else 'cpu'."""
    _init_warp()
    if device == "auto":
        return "cuda" if wp.is_cuda_available() else "cpu"
    if device == "cuda" and not wp.is_cuda_available():
        raise SetpieceError("dust device 'cuda' was asked for but Warp finds no CUDA GPU; use device='auto' or 'cpu'")
    if device not in ("cpu", "cuda"):
        raise SetpieceError(f"dust device {device!r} is not one of 'auto', 'cpu', 'cuda'")
    return device


def grid_box(
    bounds_min, bounds_max, resolution: int, ground_z: float = 0.0
) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, float]:
    """Grid shape, box min/max and voxel size for a requested box.

    Voxels are cubic (longest axis / resolution); the box is grown to whole
    voxels and its floor raised to the ground when it reaches below it."""
    lo = np.asarray(bounds_min, float).copy()
    hi = np.asarray(bounds_max, float).copy()
    lo[2] = max(lo[2], ground_z)
    ext = hi - lo
    if np.any(ext <= 0):
        raise SetpieceError(
            f"dust bounds {tuple(lo)}..{tuple(hi)} are empty above ground_z="
            f"{ground_z}; give bounds_max above bounds_min and the ground"
        )
    h = float(ext.max()) / resolution
    shape = tuple(max(MIN_CELLS, math.ceil(e / h - 1e-6)) for e in ext)
    return shape, lo, lo + np.array(shape) * h, h


# ----------------------------------------------------------------- kernels
# Positions inside kernels are in cell units: cell (i,j,k) spans [i,i+1]^3,
# so density lives at idx+0.5, u faces at (i, j+.5, k+.5), and so on.

OFF_C = wp.constant(wp.vec3(0.5, 0.5, 0.5))
OFF_U = wp.constant(wp.vec3(0.0, 0.5, 0.5))
OFF_V = wp.constant(wp.vec3(0.5, 0.0, 0.5))
OFF_W = wp.constant(wp.vec3(0.5, 0.5, 0.0))


@wp.func
def sample(f: wp.array3d(dtype=Any), p: wp.vec3, off: wp.vec3):
    """Trilinear sample of a field stored at idx+off, clamped to its edge."""
    q = p - off
    x = wp.clamp(q[0], 0.0, float(f.shape[0] - 1))
    y = wp.clamp(q[1], 0.0, float(f.shape[1] - 1))
    z = wp.clamp(q[2], 0.0, float(f.shape[2] - 1))
    i = wp.min(int(x), f.shape[0] - 2)
    j = wp.min(int(y), f.shape[1] - 2)
    k = wp.min(int(z), f.shape[2] - 2)
    tx = x - float(i)
    ty = y - float(j)
    tz = z - float(k)
    a = wp.lerp(wp.lerp(f[i, j, k], f[i + 1, j, k], tx), wp.lerp(f[i, j + 1, k], f[i + 1, j + 1, k], tx), ty)
    b = wp.lerp(
        wp.lerp(f[i, j, k + 1], f[i + 1, j, k + 1], tx), wp.lerp(f[i, j + 1, k + 1], f[i + 1, j + 1, k + 1], tx), ty
    )
    return wp.lerp(a, b, tz)


@wp.func
def sample_vec(f: wp.array3d(dtype=wp.vec3), p: wp.vec3) -> wp.vec3:
    """Trilinear sample of a cell-centred vector field (p in cell units)."""
    return sample(f, p, OFF_C)


@wp.func
def backtrace(vel: wp.array3d(dtype=wp.vec3), i: int, j: int, k: int, dt_h: float) -> wp.vec3:
    """Midpoint (RK2) trace back over dt from the centre of cell (i,j,k) through the
    cell-centred velocity (dt_h = dt / voxel size, so positions stay in cell units)."""
    p = wp.vec3(float(i), float(j), float(k)) + OFF_C
    mid = p - 0.5 * dt_h * vel[i, j, k]
    return p - dt_h * sample_vec(vel, mid)


@wp.func
def outside(p: wp.vec3, n: wp.vec3, ground: int) -> bool:
    """Beyond an open side of the box (the closed ground does not count)."""
    below = p[2] < 0.0 and ground == 0
    return p[0] < 0.0 or p[1] < 0.0 or below or p[0] > n[0] or p[1] > n[1] or p[2] > n[2]


@wp.func
def face_trace(trace: wp.array3d(dtype=wp.vec3), i: int, j: int, k: int, axis: int, lo: int, hi: int) -> wp.vec3:
    """Traced-back position of the face below cell (i,j,k) along `axis`: the mean of
    its two cells' traces (the trace map is smooth, so this matches tracing the face
    itself to second order at a third of the cost); a face on the active box's side
    shifts its one cell's trace by half a cell."""
    shift = wp.vec3(0.0, 0.0, 0.0)
    shift[axis] = 0.5
    below = wp.vec3i(i, j, k)
    below[axis] = below[axis] - 1
    index = wp.vec3i(i, j, k)[axis]
    if index <= lo:
        return trace[i, j, k] - shift
    if index >= hi:
        return trace[below[0], below[1], below[2]] + shift
    return 0.5 * (trace[i, j, k] + trace[below[0], below[1], below[2]])


@wp.kernel
def k_advect_face(
    f: wp.array3d(dtype=float),
    axis: int,
    trace: wp.array3d(dtype=wp.vec3),
    lo: wp.vec3i,
    hi: wp.vec3i,
    walls: int,
    ground: int,
    out: wp.array3d(dtype=float),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Semi-Lagrangian advection of the face-velocity component along `axis` along
    the cells' traces (faces on closed walls stay zero)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        off = OFF_C
        off[axis] = 0.0
        index = wp.vec3i(i, j, k)[axis]
        value = sample(f, face_trace(trace, i, j, k, axis, lo[axis], hi[axis]), off)
        out[i, j, k] = face_flux(
            value, index, f.shape[axis] - 1, side_closed(axis, 0, walls, ground), side_closed(axis, 1, walls, ground)
        )


@wp.kernel
def k_advect_pair(
    a: wp.array3d(dtype=float),
    b: wp.array3d(dtype=float),
    vel: wp.array3d(dtype=wp.vec3),
    dt_h: float,
    decay: wp.vec2,
    n: wp.vec3,
    outflow: int,
    ground: int,
    expand: wp.array3d(dtype=float),
    dilute: wp.vec2,
    out_a: wp.array3d(dtype=float),
    out_b: wp.array3d(dtype=float),
    trace: wp.array3d(dtype=wp.vec3),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Semi-Lagrangian advection of two cell-centred scalars along one trace;
    the traced-back position is kept for the MacCormack step and the face
    velocities. A scalar with dilute=1 thins out where bursts expand the air,
    so dust mass is conserved (the MacCormack step dilutes its own)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        q = backtrace(vel, i, j, k, dt_h)
        trace[i, j, k] = q
        rate = -dt_h * expand[i, j, k]
        keep = wp.vec2(wp.exp(rate * dilute[0]), wp.exp(rate * dilute[1]))
        if outflow == 1 and outside(q, n, ground):
            keep = wp.vec2(0.0, 0.0)  # clean air flows in through open sides
        out_a[i, j, k] = sample(a, q, OFF_C) * decay[0] * keep[0]
        out_b[i, j, k] = sample(b, q, OFF_C) * decay[1] * keep[1]


@wp.func
def limited(f: wp.array3d(dtype=float), fwd: float, back: float, value: float, q: wp.vec3, decay: float) -> float:
    """MacCormack correction clamped to the range of the cells the trace landed in
    (Selle et al. 2008), so it cannot create new extrema."""
    if fwd == 0.0:
        return 0.0  # outflow or empty air
    c = q - OFF_C
    a = wp.clamp(int(wp.floor(c[0])), 0, f.shape[0] - 2)
    b = wp.clamp(int(wp.floor(c[1])), 0, f.shape[1] - 2)
    d = wp.clamp(int(wp.floor(c[2])), 0, f.shape[2] - 2)
    lo = f[a, b, d]
    hi = lo
    for di in range(2):
        for dj in range(2):
            for dk in range(2):
                s = f[a + di, b + dj, d + dk]
                lo = wp.min(lo, s)
                hi = wp.max(hi, s)
    corrected = fwd + 0.5 * (value * decay - back)
    return wp.clamp(corrected, lo * decay, hi * decay)


@wp.kernel
def k_maccormack(
    f: wp.array3d(dtype=float),
    fwd: wp.array3d(dtype=float),
    trace: wp.array3d(dtype=wp.vec3),
    decay: float,
    expand: wp.array3d(dtype=float),
    dt_h: float,
    out: wp.array3d(dtype=float),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """MacCormack step: the forward result carried back over dt (along the forward
    trace mirrored about the cell centre, exact for a uniform flow and one pass
    cheaper than a second trace) estimates the forward step's error, half of
    which is taken back, limited."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        q = trace[i, j, k]
        ahead = 2.0 * (wp.vec3(float(i), float(j), float(k)) + OFF_C) - q
        keep = wp.exp(-dt_h * expand[i, j, k])
        out[i, j, k] = keep * limited(f, fwd[i, j, k], sample(fwd, ahead, OFF_C), f[i, j, k], q, decay)


@wp.kernel
def k_cell_velocity(
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
    wind: wp.vec3,
    out: wp.array3d(dtype=wp.vec3),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Cell-centred velocity plus the uniform wind (a uniform flow along the free-slip
    ground is itself a solution, so the solver's own field stays wind-free)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        face = 0.5 * wp.vec3(u[i, j, k] + u[i + 1, j, k], v[i, j, k] + v[i, j + 1, k], w[i, j, k] + w[i, j, k + 1])
        out[i, j, k] = face + wind


@wp.func
def clamped(i: int, n: int) -> int:
    return wp.clamp(i, 0, n - 1)


@wp.func
def face_mean(
    u: wp.array3d(dtype=float), v: wp.array3d(dtype=float), w: wp.array3d(dtype=float), i: int, j: int, k: int
):
    """Cell-centred velocity from the faces (the wind is uniform, so curl ignores it)."""
    return 0.5 * wp.vec3(u[i, j, k] + u[i + 1, j, k], v[i, j, k] + v[i, j + 1, k], w[i, j, k] + w[i, j, k + 1])


@wp.kernel
def k_curl(
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
    h: float,
    out: wp.array3d(dtype=wp.vec3),
    spin: wp.array3d(dtype=float),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Vorticity per cell and its magnitude (read six times by the confinement)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        nx, ny, nz = out.shape[0], out.shape[1], out.shape[2]
        ia, ib = clamped(i - 1, nx), clamped(i + 1, nx)
        j0, j1 = clamped(j - 1, ny), clamped(j + 1, ny)
        k0, k1 = clamped(k - 1, nz), clamped(k + 1, nz)
        ddx = (face_mean(u, v, w, ib, j, k) - face_mean(u, v, w, ia, j, k)) / (float(ib - ia) * h)
        ddy = (face_mean(u, v, w, i, j1, k) - face_mean(u, v, w, i, j0, k)) / (float(j1 - j0) * h)
        ddz = (face_mean(u, v, w, i, j, k1) - face_mean(u, v, w, i, j, k0)) / (float(k1 - k0) * h)
        omega = wp.vec3(ddy[2] - ddz[1], ddz[0] - ddx[2], ddx[1] - ddy[0])
        out[i, j, k] = omega
        spin[i, j, k] = wp.length(omega)


@wp.kernel
def k_forces(
    omega: wp.array3d(dtype=wp.vec3),
    spin: wp.array3d(dtype=float),
    density: wp.array3d(dtype=float),
    heat: wp.array3d(dtype=float),
    eps_h: float,
    lift: float,
    weight: float,
    out: wp.array3d(dtype=wp.vec3),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Vorticity confinement eps*h*(N x omega) plus buoyancy, per cell (m/s^2)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        nx, ny, nz = omega.shape[0], omega.shape[1], omega.shape[2]
        gx = spin[clamped(i + 1, nx), j, k] - spin[clamped(i - 1, nx), j, k]
        gy = spin[i, clamped(j + 1, ny), k] - spin[i, clamped(j - 1, ny), k]
        gz = spin[i, j, clamped(k + 1, nz)] - spin[i, j, clamped(k - 1, nz)]
        grad = wp.vec3(gx, gy, gz)
        normal = grad / (wp.length(grad) + 1.0e-6)
        force = eps_h * wp.cross(normal, omega[i, j, k])
        force = force + wp.vec3(0.0, 0.0, lift * heat[i, j, k] - weight * density[i, j, k])
        out[i, j, k] = force


@wp.kernel
def k_apply_forces(
    force: wp.array3d(dtype=wp.vec3),
    dt: float,
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Average cell forces onto faces (edge faces take their one cell)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        nx, ny, nz = force.shape[0], force.shape[1], force.shape[2]
        if j < ny and k < nz:
            u[i, j, k] += dt * 0.5 * (force[clamped(i - 1, nx), j, k][0] + force[clamped(i, nx), j, k][0])
        if i < nx and k < nz:
            v[i, j, k] += dt * 0.5 * (force[i, clamped(j - 1, ny), k][1] + force[i, clamped(j, ny), k][1])
        if i < nx and j < ny:
            w[i, j, k] += dt * 0.5 * (force[i, j, clamped(k - 1, nz)][2] + force[i, j, clamped(k, nz)][2])


@wp.func
def side_closed(axis: int, high: int, walls: int, ground: int) -> int:
    if walls == 1 or (axis == 2 and high == 0 and ground == 1):
        return 1
    return 0


@wp.func
def face_flux(value: float, index: int, n: int, closed_lo: int, closed_hi: int) -> float:
    """Face velocity, zero on a closed wall whatever is stored there."""
    if (index == 0 and closed_lo == 1) or (index == n and closed_hi == 1):
        return 0.0
    return value


@wp.kernel
def k_divergence(
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
    walls: int,
    ground: int,
    source: wp.array3d(dtype=float),
    sourced: float,
    out: wp.array3d(dtype=float),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Net outflow of each cell in face-velocity units (divergence * h), less
    sourced x the outflow bursts make there (the projection's target)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        nx, ny, nz = out.shape[0], out.shape[1], out.shape[2]
        cx0, cx1 = side_closed(0, 0, walls, ground), side_closed(0, 1, walls, ground)
        cy0, cy1 = side_closed(1, 0, walls, ground), side_closed(1, 1, walls, ground)
        cz0, cz1 = side_closed(2, 0, walls, ground), side_closed(2, 1, walls, ground)
        out[i, j, k] = (
            face_flux(u[i + 1, j, k], i + 1, nx, cx0, cx1)
            - face_flux(u[i, j, k], i, nx, cx0, cx1)
            + face_flux(v[i, j + 1, k], j + 1, ny, cy0, cy1)
            - face_flux(v[i, j, k], j, ny, cy0, cy1)
            + face_flux(w[i, j, k + 1], k + 1, nz, cz0, cz1)
            - face_flux(w[i, j, k], k, nz, cz0, cz1)
            - sourced * source[i, j, k]
        )


@wp.kernel
def k_scale(a: wp.array3d(dtype=float), s: float, chunk: int, end: int, o: wp.vec3i):
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        a[i, j, k] *= s


@wp.func
def neighbour(p: wp.array3d(dtype=float), i: int, j: int, k: int, inside: bool, closed: int) -> wp.vec2:
    """(value, diagonal weight) of one Laplacian neighbour: interior cells count 1,
    an open side is a ghost at -p (p = 0 on the face), a closed side nothing."""
    if inside:
        return wp.vec2(p[i, j, k], 1.0)
    if closed == 1:
        return wp.vec2(0.0, 0.0)
    return wp.vec2(0.0, 2.0)


@wp.func
def box_closed(axis: int, high: int, lo: wp.vec3i, hi: wp.vec3i, n: wp.vec3i, walls: int, ground: int) -> int:
    """A side of the active box is closed only where it is a closed side of the grid;
    inside the grid it is open (p = 0 on the face, quiet air beyond)."""
    if high == 0 and lo[axis] == 0:
        return side_closed(axis, 0, walls, ground)
    if high == 1 and hi[axis] == n[axis]:
        return side_closed(axis, 1, walls, ground)
    return 0


@wp.kernel
def k_red_black(
    p: wp.array3d(dtype=float),
    div: wp.array3d(dtype=float),
    parity: int,
    sor: float,
    walls: int,
    ground: int,
    lo: wp.vec3i,
    hi: wp.vec3i,
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        if (i + j + k) % 2 != parity:
            continue
        n = wp.vec3i(p.shape[0], p.shape[1], p.shape[2])
        acc = wp.vec2(0.0, 0.0)
        acc += neighbour(p, i - 1, j, k, i > lo[0], box_closed(0, 0, lo, hi, n, walls, ground))
        acc += neighbour(p, i + 1, j, k, i < hi[0] - 1, box_closed(0, 1, lo, hi, n, walls, ground))
        acc += neighbour(p, i, j - 1, k, j > lo[1], box_closed(1, 0, lo, hi, n, walls, ground))
        acc += neighbour(p, i, j + 1, k, j < hi[1] - 1, box_closed(1, 1, lo, hi, n, walls, ground))
        acc += neighbour(p, i, j, k - 1, k > lo[2], box_closed(2, 0, lo, hi, n, walls, ground))
        acc += neighbour(p, i, j, k + 1, k < hi[2] - 1, box_closed(2, 1, lo, hi, n, walls, ground))
        if acc[1] > 0.0:
            gauss_seidel = (acc[0] - div[i, j, k]) / acc[1]
            p[i, j, k] = wp.lerp(p[i, j, k], gauss_seidel, sor)


@wp.func
def face_gradient(p_lo: float, p_hi: float, index: int, lo: int, hi: int, closed_lo: int, closed_hi: int) -> wp.vec2:
    """(pressure difference across a face, 1 if the face is a closed wall); the
    faces at lo and hi bound the active box."""
    if index == lo:
        return wp.vec2(2.0 * p_hi, float(closed_lo))
    if index == hi:
        return wp.vec2(-2.0 * p_lo, float(closed_hi))
    return wp.vec2(p_hi - p_lo, 0.0)


@wp.func
def project_face(value: float, g: wp.vec2) -> float:
    if g[1] > 0.5:
        return 0.0
    return value - g[0]


@wp.kernel
def k_subtract_gradient(
    p: wp.array3d(dtype=float),
    walls: int,
    ground: int,
    lo: wp.vec3i,
    hi: wp.vec3i,
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
    chunk: int,
    end: int,
    o: wp.vec3i,
):
    """Faces lo..hi of the active box (launched one wider than its cells)."""
    i, j, c = wp.tid()
    i, j, k0 = i + o[0], j + o[1], o[2] + c * chunk  # this thread's run of k (see DustSolver._launch)
    for k in range(k0, wp.min(k0 + chunk, end)):
        n = wp.vec3i(p.shape[0], p.shape[1], p.shape[2])
        if j < hi[1] and k < hi[2]:
            c_lo, c_hi = box_closed(0, 0, lo, hi, n, walls, ground), box_closed(0, 1, lo, hi, n, walls, ground)
            g = face_gradient(p[clamped(i - 1, n[0]), j, k], p[clamped(i, n[0]), j, k], i, lo[0], hi[0], c_lo, c_hi)
            u[i, j, k] = project_face(u[i, j, k], g)
        if i < hi[0] and k < hi[2]:
            c_lo, c_hi = box_closed(1, 0, lo, hi, n, walls, ground), box_closed(1, 1, lo, hi, n, walls, ground)
            g = face_gradient(p[i, clamped(j - 1, n[1]), k], p[i, clamped(j, n[1]), k], j, lo[1], hi[1], c_lo, c_hi)
            v[i, j, k] = project_face(v[i, j, k], g)
        if i < hi[0] and j < hi[1]:
            c_lo, c_hi = box_closed(2, 0, lo, hi, n, walls, ground), box_closed(2, 1, lo, hi, n, walls, ground)
            g = face_gradient(p[i, j, clamped(k - 1, n[2])], p[i, j, clamped(k, n[2])], k, lo[2], hi[2], c_lo, c_hi)
            w[i, j, k] = project_face(w[i, j, k], g)


@wp.func
def falloff(p: wp.vec3, centre: wp.vec3, radius: float) -> float:
    d2 = wp.length_sq(p - centre) / (radius * radius)
    if d2 >= 1.0:
        return 0.0
    s = 1.0 - d2
    return s * s * s


@wp.func
def splat_scalars(
    i: int,
    j: int,
    k: int,
    centre: wp.vec3,
    radius: float,
    amounts: wp.vec3,
    seed: int,
    density: wp.array3d(dtype=float),
    heat: wp.array3d(dtype=float),
    expand: wp.array3d(dtype=float),
):
    """Add a noisy (1 - d^2)^3 ball of dust and heat, and air expansion (a divergence
    source for the next projection) over twice the radius; amounts = (dust, heat,
    expansion) per cell at the centre, radius in cells."""
    p = wp.vec3(float(i), float(j), float(k)) + OFF_C
    expand[i, j, k] += amounts[2] * falloff(p, centre, 2.0 * radius)
    f = falloff(p, centre, radius)
    if f > 0.0:
        state = wp.rand_init(seed)
        grain = wp.max(0.0, 1.0 + 0.8 * wp.noise(state, p * (0.7 / radius)))
        density[i, j, k] += amounts[0] * f * grain
        heat[i, j, k] += amounts[1] * f


@wp.func
def burst_velocity(p: wp.vec3, centre: wp.vec3, radius: float, speed: float, spread: int) -> wp.vec3:
    """Outward push: along the ground (spread=1, slight lift) or in 3D."""
    d = p - centre
    if spread == 1:
        d = wp.vec3(d[0], d[1], 0.0)
    dist = wp.length(d)
    ramp = wp.min(1.0, 2.0 * dist / radius)  # zero at the centre
    out = d / (dist + 1.0e-6) * speed * ramp
    if spread == 1:
        out = out + wp.vec3(0.0, 0.0, 0.25 * speed * ramp)
    return out


@wp.func
def splat_velocity(
    i: int,
    j: int,
    k: int,
    centre: wp.vec3,
    radius: float,
    speed: float,
    spread: int,
    walls: int,
    ground: int,
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
):
    """Blend face velocities towards the burst's outward flow (never through walls);
    faces beyond the radius (most of the box, which spans the air's 2 x radius) keep theirs."""
    base = wp.vec3(float(i), float(j), float(k))
    if i < u.shape[0] and j < u.shape[1] and k < u.shape[2]:
        p = base + OFF_U
        f = falloff(p, centre, radius)
        if f > 0.0:
            value = wp.lerp(u[i, j, k], burst_velocity(p, centre, radius, speed, spread)[0], f)
            u[i, j, k] = face_flux(
                value, i, u.shape[0] - 1, side_closed(0, 0, walls, ground), side_closed(0, 1, walls, ground)
            )
    if i < v.shape[0] and j < v.shape[1] and k < v.shape[2]:
        p = base + OFF_V
        f = falloff(p, centre, radius)
        if f > 0.0:
            value = wp.lerp(v[i, j, k], burst_velocity(p, centre, radius, speed, spread)[1], f)
            v[i, j, k] = face_flux(
                value, j, v.shape[1] - 1, side_closed(1, 0, walls, ground), side_closed(1, 1, walls, ground)
            )
    if i < w.shape[0] and j < w.shape[1] and k < w.shape[2]:
        p = base + OFF_W
        f = falloff(p, centre, radius)
        if f > 0.0:
            value = wp.lerp(w[i, j, k], burst_velocity(p, centre, radius, speed, spread)[2], f)
            w[i, j, k] = face_flux(
                value, k, w.shape[2] - 1, side_closed(2, 0, walls, ground), side_closed(2, 1, walls, ground)
            )


@wp.kernel
def k_splat(
    offsets: wp.array(dtype=int),
    origins: wp.array(dtype=wp.vec3i),
    extents: wp.array(dtype=wp.vec3i),
    centres: wp.array(dtype=wp.vec3),
    radii: wp.array(dtype=float),
    amounts: wp.array(dtype=wp.vec3),
    seeds: wp.array(dtype=int),
    pushes: wp.array(dtype=float),
    spreads: wp.array(dtype=int),
    start: int,
    walls: int,
    ground: int,
    density: wp.array3d(dtype=float),
    heat: wp.array3d(dtype=float),
    expand: wp.array3d(dtype=float),
    u: wp.array3d(dtype=float),
    v: wp.array3d(dtype=float),
    w: wp.array3d(dtype=float),
):
    """Every burst's splat in one launch: thread t belongs to the burst e with
    offsets[e] <= t < offsets[e+1] and walks that burst's faces (its cells and one
    more on each axis). A CPU launch runs its threads in order, so overlapping
    bursts add up in burst order, as one launch per burst would (on CUDA it is
    launched once per burst, from `start`)."""
    t = wp.tid() + start
    e = int(0)
    top = offsets.shape[0] - 1
    while top - e > 1:  # the last burst starting at or before t
        mid = (e + top) // 2
        if offsets[mid] <= t:
            e = mid
        else:
            top = mid
    cells = extents[e]
    ny, nz = cells[1] + 1, cells[2] + 1
    local = t - offsets[e]
    a = local // (ny * nz)
    b = (local - a * ny * nz) // nz
    c = local - a * ny * nz - b * nz
    i, j, k = origins[e][0] + a, origins[e][1] + b, origins[e][2] + c
    inside = a < cells[0] and b < cells[1] and c < cells[2]
    if inside and i < density.shape[0] and j < density.shape[1] and k < density.shape[2]:
        splat_scalars(i, j, k, centres[e], radii[e], amounts[e], seeds[e], density, heat, expand)
    splat_velocity(i, j, k, centres[e], radii[e], pushes[e], spreads[e], walls, ground, u, v, w)


# ----------------------------------------------------------- spectral solve


def _spectral_axis(n: int, closed_lo: bool, closed_hi: bool) -> tuple[str, int, np.ndarray]:
    """Transform diagonalising the 1D Laplacian with these ends, and its eigenvalues.
    Open end: p = 0 on the face (ghost = -p). Closed end: zero gradient."""
    k = np.arange(n)
    if closed_lo and closed_hi:
        kind, typ, theta = "dct", 2, np.pi * k / (2 * n)
    elif closed_lo:
        kind, typ, theta = "dct", 4, np.pi * (k + 0.5) / (2 * n)
    elif closed_hi:
        raise ValueError("only the low side may be closed alone")
    else:
        kind, typ, theta = "dst", 2, np.pi * (k + 1) / (2 * n)
    return kind, typ, -4.0 * np.sin(theta) ** 2


def spectral_pressure(div: np.ndarray, walls: bool, ground: bool, workers: int = -1) -> np.ndarray:
    """Exact solve of L p = div on the box (fast sine/cosine transforms)."""
    shape = div.shape
    closed = [(walls, walls), (walls, walls), (walls or ground, walls)]
    axes = [_spectral_axis(shape[a], *closed[a]) for a in range(3)]
    coef = np.asarray(div, np.float32)  # single precision: pressure feeds float32 velocities
    for a, (kind, typ, _) in enumerate(axes):
        coef = getattr(sfft, kind)(coef, type=typ, axis=a, norm="ortho", workers=workers)
    lam = axes[0][2][:, None, None] + axes[1][2][None, :, None] + axes[2][2][None, None, :]
    lam[lam == 0.0] = np.inf  # closed box: drop the constant mode
    coef *= (1.0 / lam).astype(np.float32)
    for a, (kind, typ, _) in reversed(list(enumerate(axes))):
        coef = getattr(sfft, "i" + kind)(coef, type=typ, axis=a, norm="ortho", workers=workers)
    return coef.astype(np.float32, copy=False)


# ------------------------------------------------------------------ solver


class DustSolver:
    """Grid smoke solver for collapse dust; see the module docstring.

    resolution: cells on the longest axis (cubic cells). buoyancy: upward
    acceleration per unit heat (m/s^2); dust_weight: downward acceleration per
    unit density; vorticity: confinement strength; dissipation and cooling:
    decay rates of density and heat (1/s). Keyword-only: closed (walls on
    every side, for tests), pressure ("auto": spectral on CPU, red-black SOR
    on CUDA) and pressure_iterations (default max(100, 2 x longest axis)),
    maccormack (else plain semi-Lagrangian scalars), amount (dust per event),
    expansion (m^3 of air pushed out per joule of an event's kinetic energy),
    wind (uniform air flow, m/s, that carries the dust and its eddies),
    active_box (False: solve the whole grid on the CPU too, for comparisons)."""

    def __init__(
        self,
        bounds_min,
        bounds_max,
        resolution: int = 64,
        device: str = "auto",
        seed: int = 0,
        buoyancy: float = 5.0,
        vorticity: float = 1.0,
        dissipation: float = 0.02,
        ground_z: float = 0.0,
        *,
        dust_weight: float = 0.6,
        cooling: float = 0.3,
        wind=(0.0, 0.0, 0.0),
        closed: bool = False,
        pressure: str = "auto",
        pressure_iterations: int | None = None,
        maccormack: bool = True,
        amount: float = 1.0,
        expansion: float = 5e-4,
        active_box: bool = True,
    ):
        if resolution < MIN_CELLS:
            raise SetpieceError(f"dust resolution {resolution} is too small; use at least {MIN_CELLS}")
        self.device = resolve_device(device)
        self.shape, self._lo, self._hi, self.voxel_size = grid_box(bounds_min, bounds_max, resolution, ground_z)
        self.ground_z = ground_z
        self.seed = seed
        self.buoyancy, self.vorticity, self.dissipation = buoyancy, vorticity, dissipation
        self.dust_weight, self.cooling = dust_weight, cooling
        self.wind = np.asarray(wind, float).reshape(3)
        self.maccormack = maccormack
        self.amount = amount
        self.expansion = expansion
        self.pressure_iterations = pressure_iterations or max(100, 2 * max(self.shape))
        self._sor = 2.0 / (1.0 + math.sin(math.pi / max(self.shape)))  # optimal for the box
        self._walls = int(closed)
        self._ground = int(self._lo[2] <= ground_z + 1e-9)
        self._pressure = self._pick_pressure(pressure)
        # Active box: the cells the flow is solved in, grown each step to hold all dust plus
        # a margin (quiet air beyond it, p = 0 on its open faces). On the CPU it starts empty
        # and skips the still air that fills most of the grid early in a collapse; CUDA
        # and closed boxes always solve the whole grid.
        self._active = active_box and self.device == "cpu" and not closed
        self._margin = max(ACTIVE_MARGIN, math.ceil(resolution * ACTIVE_MARGIN_SHARE))
        self._box = np.zeros((2, 3), int) if self._active else np.array([(0, 0, 0), self.shape])
        self._alloc()
        self._emitters: list[list] = []  # [event, seconds of burst left, noise seed]
        self._events_seen = 0
        self.time = 0.0

    def _pick_pressure(self, pressure: str) -> str:
        if pressure == "auto":
            return "spectral" if self.device == "cpu" else "iterative"
        if pressure not in ("spectral", "iterative"):
            raise SetpieceError(f"dust pressure solver {pressure!r}: use 'auto', 'spectral' or 'iterative'")
        return pressure

    def _alloc(self) -> None:
        nx, ny, nz = self.shape

        def zeros(shape, dtype=float):
            return wp.zeros(shape, dtype=dtype, device=self.device)

        self._rho, self._heat = zeros(self.shape), zeros(self.shape)
        self._u, self._v, self._w = zeros((nx + 1, ny, nz)), zeros((nx, ny + 1, nz)), zeros((nx, ny, nz + 1))
        self._scratch = [zeros(self.shape) for _ in range(3)]
        self._vel_tmp = [zeros(a.shape) for a in (self._u, self._v, self._w)]
        self._pressure_grid, self._div, self._expand, self._spin = (zeros(self.shape) for _ in range(4))
        self._vec_a, self._vec_b = (zeros(self.shape, wp.vec3) for _ in range(2))

    # -------------------------------------------------------------- public
    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """World box of the grid (min, max): cell (i,j,k) centre is min + (idx+0.5)*h."""
        return self._lo.copy(), self._hi.copy()

    @property
    def density(self) -> np.ndarray:
        return self._rho.numpy().astype(np.float32, copy=True)

    @property
    def heat(self) -> np.ndarray:
        return self._heat.numpy().astype(np.float32, copy=True)

    def velocity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face velocities u (nx+1,ny,nz), v (nx,ny+1,nz), w (nx,ny,nz+1), m/s."""
        return self._u.numpy().copy(), self._v.numpy().copy(), self._w.numpy().copy()

    def set_velocity(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> None:
        self._grow_box(np.zeros(3, int), np.array(self.shape))
        for dst, src in zip((self._u, self._v, self._w), (u, v, w)):
            dst.assign(wp.array(np.asarray(src, np.float32), device=self.device))

    def set_density(self, density: np.ndarray, heat: np.ndarray | None = None) -> None:
        self._grow_box(np.zeros(3, int), np.array(self.shape))
        self._rho.assign(wp.array(np.asarray(density, np.float32), device=self.device))
        if heat is not None:
            self._heat.assign(wp.array(np.asarray(heat, np.float32), device=self.device))

    def divergence(self) -> np.ndarray:
        """Velocity divergence per cell (1/s)."""
        inputs = [self._u, self._v, self._w, self._walls, self._ground, self._expand, 0.0, self._div]
        self._launch(k_divergence, self._cells(), inputs)
        return self._div.numpy() / self.voxel_size

    def emit(self, events: Iterable[Event], dt: float) -> None:
        """Start the given events' bursts and release every active burst's share
        of dust for the next dt. Call once per step, before step(dt), with the
        events that happened during it (an empty list still releases dust)."""
        for event in events:
            self._events_seen += 1
            burst = self._burst(event, self._noise_seed())
            if burst is not None:
                self._emitters.append([burst, BURST_TIME])
        if dt > 0 and self._emitters:
            self._splat([em[0] for em in self._emitters], [min(dt, em[1]) / BURST_TIME for em in self._emitters], dt)
        for em in self._emitters:
            em[1] -= dt
        self._emitters = [em for em in self._emitters if em[1] > 1e-9]

    def step(self, dt: float) -> None:
        """Advance the flow by dt seconds."""
        dt_h = dt / self.voxel_size
        self._fit_box()
        self._add_forces(dt)
        self.project()
        self._cell_velocity()
        self._advect_scalars(dt_h, wp.vec2(math.exp(-self.dissipation * dt), math.exp(-self.cooling * dt)))
        self._advect_velocity()
        self._expand.zero_()
        self.time += dt

    def project(self) -> None:
        """Make the velocity divergence-free, except where bursts expand the air
        (open sides: p = 0 on the face; walls and ground: no flow through)."""
        inputs = [self._u, self._v, self._w, self._walls, self._ground, self._expand, 1.0, self._div]
        self._launch(k_divergence, self._cells(), inputs)
        if not np.all(self._box[1] > self._box[0]):
            return
        if self._pressure == "spectral":
            self._solve_spectral()
        else:
            for _ in range(self.pressure_iterations):
                for parity in (0, 1):
                    self._launch(
                        k_red_black,
                        self._cells(),
                        [
                            self._pressure_grid,
                            self._div,
                            parity,
                            self._sor,
                            self._walls,
                            self._ground,
                            *self._box_vecs(),
                        ],
                    )
        self._launch(
            k_subtract_gradient,
            self._faces(),
            [self._pressure_grid, self._walls, self._ground, *self._box_vecs(), self._u, self._v, self._w],
        )

    def _solve_spectral(self) -> None:
        """Exact pressure in the active box (its open faces: p = 0; the ground: closed)."""
        lo, hi = self._box
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        ground = bool(self._ground) and lo[2] == 0
        if self.device == "cpu":  # numpy views share the arrays' memory
            self._pressure_grid.numpy()[box] = spectral_pressure(self._div.numpy()[box], bool(self._walls), ground)
        else:  # the whole grid (see __init__)
            p = spectral_pressure(self._div.numpy(), bool(self._walls), ground)
            self._pressure_grid.assign(wp.array(p, device=self.device))

    # ------------------------------------------------------------ internals
    def _cells(self) -> tuple[np.ndarray, tuple]:
        """(origin, extent) of the active box's cells."""
        lo, hi = self._box
        return lo, tuple(int(x) for x in hi - lo)

    def _faces(self, axis: int | None = None) -> tuple[np.ndarray, tuple]:
        """(origin, extent) of the active box's faces normal to `axis` (all axes: one wider on each)."""
        lo, hi = self._box
        extent = hi - lo + (1 if axis is None else np.eye(3, dtype=int)[axis])
        return lo, tuple(int(x) for x in extent)

    def _box_vecs(self) -> tuple[wp.vec3i, wp.vec3i]:
        return wp.vec3i(*map(int, self._box[0])), wp.vec3i(*map(int, self._box[1]))

    def _grow_box(self, lo, hi) -> None:
        """Widen the active box to hold cells lo..hi-1 (clipped to the grid); it never shrinks."""
        if not np.all(np.asarray(hi) > np.asarray(lo)):
            return
        lo, hi = np.maximum(lo, 0), np.minimum(hi, self.shape)
        if np.all(self._box[1] > self._box[0]):
            lo, hi = np.minimum(lo, self._box[0]), np.maximum(hi, self._box[1])
        for a, n in enumerate(self.shape):  # sizes the FFTs are fast at (a prime one is 3x slower)
            want = min(sfft.next_fast_len(int(hi[a] - lo[a]), real=True), n)
            hi[a] = min(n, lo[a] + want)
            lo[a] = hi[a] - want
        self._box = np.array([lo, hi], int)

    def _fit_box(self) -> None:
        """Grow the active box to the dust and heat in it plus the margin."""
        if not self._active or not np.all(self._box[1] > self._box[0]):
            return
        box = tuple(slice(a, b) for a, b in zip(*self._box))
        busy = (self._rho.numpy()[box] > ACTIVE_DENSITY) | (self._heat.numpy()[box] > ACTIVE_DENSITY)
        span = [np.flatnonzero(busy.any(axis=tuple(b for b in range(3) if b != a))) for a in range(3)]
        if any(len(x) == 0 for x in span):
            return
        first = np.array([x[0] for x in span]) + self._box[0]
        last = np.array([x[-1] for x in span]) + self._box[0]
        self._grow_box(first - self._margin, last + 1 + self._margin)

    def _launch(self, kernel, block, inputs) -> None:
        """Launch a grid kernel over block = (origin, extent); its last inputs are the
        run of k each thread walks (chunk), where k ends, and the origin. Warp runs a
        CPU launch on one thread (and releases the GIL), so on the CPU the x range is
        split into bands launched from worker threads: every core works, and each
        cell is still written by exactly one thread in the same way (deterministic).
        On the CPU a thread walks a whole column of k: Warp's cost per thread there
        outweighs most kernels' work per cell (twice as fast); CUDA wants a thread a cell."""
        origin, dim = block
        if min(dim) <= 0:
            return
        x0 = int(origin[0])
        bands = _band_edges(dim[0]) if self.device == "cpu" else [0, dim[0]]
        chunk = dim[2] if self.device == "cpu" else 1
        end = int(origin[2]) + dim[2]

        def launch(a: int, b: int) -> None:
            o = wp.vec3i(x0 + a, int(origin[1]), int(origin[2]))
            size = (b - a, dim[1], dim[2] // chunk)
            wp.launch(kernel, dim=size, inputs=[*inputs, chunk, end, o], device=self.device)

        launch(bands[0], bands[1])  # also loads the module
        jobs = [_POOL.submit(launch, a, b) for a, b in zip(bands[1:-1], bands[2:])]
        for job in jobs:
            job.result()

    def _cell_velocity(self) -> None:
        self._launch(k_cell_velocity, self._cells(), [self._u, self._v, self._w, wp.vec3(*self.wind), self._vec_a])

    def _advect_scalars(self, dt_h: float, decay: wp.vec2) -> None:
        """Advect density and heat, then rescale the density so that its total
        changes only by decay and what flows out of open sides: neither
        MacCormack nor semi-Lagrangian advection conserves mass by itself."""
        before = float(self._rho.numpy().sum())
        target = (before - self._outflow(dt_h)) * decay[0]
        self._transport_scalars(dt_h, decay)
        after = float(self._rho.numpy().sum())
        if before > 0.0 and after > 0.0:
            scale = min(max(target / after, 1.0 / MAX_MASS_FIX), MAX_MASS_FIX)
            self._launch(k_scale, self._cells(), [self._rho, scale])

    def _outflow(self, dt_h: float) -> float:
        """Density sum leaving through open sides over one step (upwind)."""
        if self._walls:
            return 0.0
        rho, (u, v, w) = self._rho.numpy(), (a.numpy() for a in (self._u, self._v, self._w))
        (lo, hi), n, (wx, wy, wz) = self._box, self.shape, self.wind
        faces = []  # only sides the active box reaches can have dust at them
        if lo[0] == 0:
            faces.append((rho[0], -(u[0] + wx)))
        if hi[0] == n[0]:
            faces.append((rho[-1], u[-1] + wx))
        if lo[1] == 0:
            faces.append((rho[:, 0], -(v[:, 0] + wy)))
        if hi[1] == n[1]:
            faces.append((rho[:, -1], v[:, -1] + wy))
        if hi[2] == n[2]:
            faces.append((rho[:, :, -1], w[:, :, -1] + wz))
        if not self._ground and lo[2] == 0:
            faces.append((rho[:, :, 0], -(w[:, :, 0] + wz)))
        return dt_h * float(sum((r * np.maximum(out, 0.0)).sum() for r, out in faces))

    def _transport_scalars(self, dt_h: float, decay: wp.vec2) -> None:
        """MacCormack (or plain semi-Lagrangian) advection of density; heat, smooth and
        unseen, is always semi-Lagrangian."""
        n = wp.vec3(*map(float, self.shape))
        fwd, heat, out = self._scratch
        dilute = wp.vec2(0.0 if self.maccormack else 1.0, 1.0)
        self._launch(
            k_advect_pair,
            self._cells(),
            [
                self._rho,
                self._heat,
                self._vec_a,
                dt_h,
                decay,
                n,
                1 - self._walls,
                self._ground,
                self._expand,
                dilute,
                fwd,
                heat,
                self._vec_b,
            ],
        )
        if self.maccormack:
            block = self._cells()
            self._launch(k_maccormack, block, [self._rho, fwd, self._vec_b, decay[0], self._expand, dt_h, out])
            fwd, out = out, fwd
        self._scratch = [self._rho, self._heat, out]
        self._rho, self._heat = fwd, heat

    def _advect_velocity(self) -> None:
        """Semi-Lagrangian face velocities along the density's forward traces (so it
        runs after _advect_scalars, which leaves them in _vec_b)."""
        fields = (self._u, self._v, self._w)
        outs = self._vel_tmp
        for axis, (field, out) in enumerate(zip(fields, outs)):
            block = self._faces(axis)
            inputs = [field, axis, self._vec_b, *self._box_vecs(), self._walls, self._ground, out]
            self._launch(k_advect_face, block, inputs)
        self._vel_tmp = list(fields)
        self._u, self._v, self._w = outs

    def _add_forces(self, dt: float) -> None:
        uvw = [self._u, self._v, self._w]
        self._launch(k_curl, self._cells(), [*uvw, self.voxel_size, self._vec_b, self._spin])
        self._launch(
            k_forces,
            self._cells(),
            [
                self._vec_b,
                self._spin,
                self._rho,
                self._heat,
                self.vorticity * self.voxel_size,
                self.buoyancy,
                self.dust_weight,
                self._vec_a,
            ],
        )
        self._launch(k_apply_forces, self._faces(), [self._vec_a, dt, self._u, self._v, self._w])

    def _noise_seed(self) -> int:
        return (self.seed * 1_000_003 + self._events_seen * 7919) % (2**31 - 1)

    def _burst(self, event: Event, noise_seed: int) -> tuple | None:
        """An event's burst, fixed when it starts: a ball of dust and heat, air
        expanding from a ball twice as wide, and an outward push. None when it
        makes no dust or lies outside the grid. Amounts are per unit share."""
        h = self.voxel_size
        energy = 0.5 * event.mass * event.speed**2
        dust = DUST_PER_JOULE[event.kind] * energy
        radius = float(np.clip(1.5 * (event.mass / FRAGMENT_DENSITY) ** (1 / 3), 1.5 * h, MAX_BURST_RADIUS))
        centre = np.asarray(event.position, float).copy()
        near_ground = bool(self._ground) and centre[2] - self.ground_z < radius + h
        if self._ground:
            centre[2] = max(centre[2], self.ground_z + 0.5 * radius)
        c, r = (centre - self._lo) / h, radius / h
        lo = np.maximum(np.floor(c - 2 * r).astype(int), 0)
        hi = np.minimum(np.ceil(c + 2 * r).astype(int) + 1, self.shape)
        if np.any(hi <= lo) or dust <= 0:
            return None
        per_cell = dust / (BALL_INTEGRAL * radius**3)
        # displaced air (m^3, over the whole burst) as outflow per cell, in face-velocity units x dt
        air = self.expansion * energy * h / (BALL_INTEGRAL * (2 * radius) ** 3)
        spread = event.kind == "impact" and near_ground
        push = min(0.6 * event.speed, 15.0) if spread else min(0.15 * event.speed, 6.0)
        amounts = (self.amount * per_cell, HEAT_PER_DUST[event.kind] * per_cell, air)
        return (tuple(lo), tuple(hi - lo), tuple(c), r, amounts, noise_seed, push, int(spread))

    def _splat(self, bursts: list[tuple], shares: list[float], dt: float) -> None:
        """Release each burst's share of its dust over dt, all in one launch on the CPU."""
        lo = np.array([b[0] for b in bursts])
        extent = np.array([b[1] for b in bursts])
        self._grow_box(lo.min(axis=0), (lo + extent).max(axis=0))
        share = np.asarray(shares, np.float32)[:, None]
        amounts = np.array([b[4] for b in bursts], np.float32) * share * np.array([1.0, 1.0, 1.0 / dt], np.float32)
        counts = np.prod(extent + 1, axis=1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)

        def arr(values, dtype):
            return wp.array(values, dtype=dtype, device=self.device)

        inputs = [
            arr(offsets, int),
            arr(lo.astype(np.int32), wp.vec3i),
            arr(extent.astype(np.int32), wp.vec3i),
            arr(np.array([b[2] for b in bursts], np.float32), wp.vec3),
            arr(np.array([b[3] for b in bursts], np.float32), float),
            arr(amounts, wp.vec3),
            arr(np.array([b[5] for b in bursts], np.int32), int),
            arr(np.array([b[6] for b in bursts], np.float32), float),
            arr(np.array([b[7] for b in bursts], np.int32), int),
        ]
        fields = [self._walls, self._ground, self._rho, self._heat, self._expand, self._u, self._v, self._w]
        if self.device == "cpu":
            wp.launch(k_splat, dim=int(offsets[-1]), inputs=[*inputs, 0, *fields], device=self.device)
            return
        for first, count in zip(offsets[:-1], counts):  # one launch per burst keeps the order
            wp.launch(k_splat, dim=int(count), inputs=[*inputs, int(first), *fields], device=self.device)


def simulate_dust(
    events: Iterable[Event],
    bounds_min,
    bounds_max,
    frames: int,
    fps: float,
    resolution: int = 64,
    substeps: int = 1,
    device: str = "auto",
    seed: int = 0,
    amount: float = 1.0,
    **solver_options,
) -> Iterator[DustFrame]:
    """Yield one DustFrame per frame; frame f is the state at time f / fps.

    An event starts its burst in the substep whose interval (t0, t1] holds its
    time, so its dust shows from the frame ending that interval (events at
    t <= 0 start before the first step and show from frame 1). `amount` scales
    all dust; solver_options go to DustSolver. Wrap in list() to keep them all."""
    solver = DustSolver(bounds_min, bounds_max, resolution, device, seed, amount=amount, **solver_options)
    ordered = sorted(events, key=lambda e: e.time)
    times = np.array([e.time for e in ordered])
    lo, hi = (tuple(map(float, b)) for b in solver.bounds)
    dt = 1.0 / (fps * substeps)
    first = int(np.searchsorted(times, 0.0, side="right"))
    solver.emit(ordered[:first], 0.0)
    yield DustFrame(0, 0.0, solver.density, lo, hi)
    for frame in range(1, frames):
        for sub in range(substeps):
            t1 = ((frame - 1) * substeps + sub + 1) * dt
            last = int(np.searchsorted(times, t1 + 1e-9, side="right"))
            solver.emit(ordered[first:last], dt)
            solver.step(dt)
            first = last
        yield DustFrame(frame, frame / fps, solver.density, lo, hi)
