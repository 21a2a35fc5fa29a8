"""Dust solver: conservation, projection, buoyancy, ground, sources, determinism."""

import numpy as np
import pytest

from setpiece.artifacts import Event
from setpiece.errors import SetpieceError
from setpiece.fx.smoke import DustSolver, grid_box, simulate_dust

QUIET = dict(buoyancy=0.0, dust_weight=0.0, vorticity=0.0, dissipation=0.0)


def cell_centres(solver: DustSolver) -> np.ndarray:
    """(3, nx, ny, nz) world positions of the cell centres."""
    lo, _ = solver.bounds
    idx = np.indices(solver.shape) + 0.5
    return lo[:, None, None, None] + idx * solver.voxel_size


def ball(solver: DustSolver, centre, radius: float) -> np.ndarray:
    d = np.linalg.norm(cell_centres(solver) - np.asarray(centre, float)[:, None, None, None], axis=0)
    return np.clip(1.0 - d / radius, 0.0, 1.0).astype(np.float32)


def centre_z(solver: DustSolver, field: np.ndarray) -> float:
    return float((cell_centres(solver)[2] * field).sum() / field.sum())


def random_velocity(solver: DustSolver, seed: int = 0):
    rng = np.random.default_rng(seed)
    nx, ny, nz = solver.shape
    return rng.normal(size=(nx + 1, ny, nz)), rng.normal(size=(nx, ny + 1, nz)), rng.normal(size=(nx, ny, nz + 1))


def test_grid_box_uses_cubic_cells_and_starts_at_the_ground():
    shape, lo, hi, h = grid_box((-10, -5, -3), (10, 5, 7), 20, ground_z=0.0)
    assert h == pytest.approx(1.0)
    assert shape == (20, 10, 7)
    assert lo[2] == 0.0 and np.allclose(hi, (10, 5, 7))


def test_advection_conserves_mass_in_a_closed_box():
    solver = DustSolver((0, 0, 0), (1, 1, 1), 20, device="cpu", closed=True, **QUIET)
    solver.set_density(ball(solver, (0.35, 0.5, 0.5), 0.2))
    x = cell_centres(solver)  # swirl about the box's vertical axis, then made divergence-free
    nx, ny, nz = solver.shape
    u = np.zeros((nx + 1, ny, nz))
    u[1:] = -3 * (x[1] - 0.5)
    v = np.zeros((nx, ny + 1, nz))
    v[:, 1:] = 3 * (x[0] - 0.5)
    solver.set_velocity(u, v, np.zeros((nx, ny, nz + 1)))
    solver.project()
    start = solver.density
    for _ in range(30):
        solver.step(0.05)
    end = solver.density
    assert not np.allclose(end, start, atol=1e-3)  # it really moved
    assert end.sum() == pytest.approx(start.sum(), rel=1e-4)
    assert end.min() >= 0.0 and end.max() <= 1.01 * start.max()  # limiter: no new extrema


def test_dust_carried_out_of_an_open_side_is_lost():
    solver = DustSolver((0, 0, 0), (1, 1, 1), 16, device="cpu", **QUIET)
    solver.set_density(ball(solver, (0.5, 0.5, 0.5), 0.2))
    nx, ny, nz = solver.shape
    solver.set_velocity(
        np.full((nx + 1, ny, nz), 1.0), np.zeros((nx, ny + 1, nz)), np.zeros((nx, ny, nz + 1))
    )  # a uniform wind along +x
    start = solver.density.sum()
    masses = []
    for _ in range(16):
        solver.step(0.05)
        masses.append(solver.density.sum())
    assert masses[2] == pytest.approx(start, rel=1e-3)  # still inside: kept
    assert masses[-1] < 0.02 * start  # blown out through the open side
    assert np.all(np.diff(masses) <= 1e-3 * start)


@pytest.mark.parametrize("pressure", ["spectral", "iterative"])
@pytest.mark.parametrize("closed", [False, True])
def test_projection_removes_divergence(pressure, closed):
    solver = DustSolver((0, 0, 0), (1, 1, 1), 16, device="cpu", pressure=pressure, closed=closed)
    solver.set_velocity(*random_velocity(solver))
    before = np.abs(solver.divergence()).max()
    solver.project()
    after = np.abs(solver.divergence()).max()
    assert after < 1e-4 * before
    _, _, w = solver.velocity()
    assert np.all(w[:, :, 0] == 0.0)  # nothing flows through the ground


def test_hot_dust_rises_and_cold_dust_sinks():
    def centre_after(heat: float) -> float:
        solver = DustSolver((-5, -5, 0), (5, 5, 10), 20, device="cpu", seed=1)
        blob = ball(solver, (0, 0, 3), 2.0)
        solver.set_density(blob, heat=heat * blob)
        for _ in range(48):
            solver.step(1 / 24)
        return centre_z(solver, solver.density)

    assert centre_after(heat=1.0) > 3.0 + 0.3
    # dust is only a little heavier than air (density 1 pulls with 0.6 m/s^2), so it sinks slowly
    assert centre_after(heat=0.0) < 3.0 - 0.15


def test_dust_stays_above_ground_and_spreads_along_it():
    solver = DustSolver((-10, -10, -5), (10, 10, 10), 20, device="cpu", amount=0.01)  # a light cloud
    assert solver.bounds[0][2] == 0.0  # cells below the ground are never made
    impact = Event(0.0, (0.0, 0.0, -1.0), mass=3000.0, speed=15.0, kind="impact")
    solver.emit([impact], 1 / 24)
    for _ in range(20):
        solver.step(1 / 24)
        solver.emit([], 1 / 24)
    rho = solver.density
    _, _, w = solver.velocity()
    assert rho.sum() > 0 and np.all(np.isfinite(rho))
    assert np.all(w[:, :, 0] == 0.0)
    assert rho[:, :, :3].sum() > 0.5 * rho.sum()  # heavy dust hugs the ground
    ground = rho[:, :, 0] > 1e-3 * rho.max()
    assert ground.sum() > 9  # ... and spreads over it, wider than the burst


def emitted(mass: float, speed: float, kind: str = "impact") -> float:
    solver = DustSolver((-10, -10, 0), (10, 10, 20), 20, device="cpu")
    for step in range(12):  # a whole burst
        solver.emit([Event(0.0, (0, 0, 10), mass, speed, kind)] if step == 0 else [], 1 / 24)
    return float(solver.density.sum())


def test_more_mass_and_speed_make_more_dust():
    base = emitted(1000.0, 10.0)
    assert emitted(3000.0, 10.0) > 2.5 * base
    assert emitted(1000.0, 20.0) == pytest.approx(4 * base, rel=0.1)  # kinetic energy
    assert emitted(1000.0, 10.0, "break") < base
    assert emitted(1000.0, 0.0) == 0.0


def run(seed: int, device: str = "cpu", **options) -> np.ndarray:
    events = [
        Event(0.0, (1.0, 0.0, 0.5), 2000.0, 12.0, "impact"),
        Event(0.05, (-2.0, 1.0, 6.0), 800.0, 5.0, "break"),
    ]
    frames = simulate_dust(
        events, (-8, -8, 0), (8, 8, 10), frames=8, fps=24, resolution=16, device=device, seed=seed, **options
    )
    return np.stack([f.density for f in frames])


def test_same_seed_gives_identical_dust():
    a, b = run(3), run(3)
    assert a.sum() > 0
    assert np.array_equal(a, b)
    assert not np.array_equal(a, run(4))


def test_simulate_dust_frames_and_timing():
    events = [Event(0.5, (0, 0, 1), 2000.0, 10.0, "impact")]
    frames = list(
        simulate_dust(events, (-5, -5, -1), (5, 5, 5), frames=20, fps=24, resolution=12, device="cpu", amount=2.0)
    )
    assert [f.index for f in frames] == list(range(20))
    assert frames[3].time == pytest.approx(3 / 24)
    assert frames[0].bounds_min[2] == 0.0 and frames[0].density.shape == (12, 12, 6)
    assert frames[0].density.dtype == np.float32
    assert frames[11].density.sum() == 0.0  # nothing before the event at t = 0.5
    assert frames[13].density.sum() > 0.0
    none = list(
        simulate_dust(events, (-5, -5, -1), (5, 5, 5), frames=20, fps=24, resolution=12, device="cpu", amount=0.0)
    )
    assert none[-1].density.sum() == 0.0


def test_bad_inputs_name_the_fix():
    with pytest.raises(ValueError, match="kind"):
        Event(0.0, (0, 0, 0), 1.0, 1.0, kind="explosion")
    with pytest.raises(SetpieceError, match="bounds"):
        DustSolver((0, 0, -5), (1, 1, -1), 8, device="cpu")
    with pytest.raises(SetpieceError, match="pressure"):
        DustSolver((0, 0, 0), (1, 1, 1), 8, device="cpu", pressure="multigrid")


def test_gpu_pressure_path_matches_the_exact_solve():
    """The red-black SOR solve (the CUDA default) agrees with the spectral one."""

    def velocity_after(pressure: str):
        solver = DustSolver((-8, -8, 0), (8, 8, 8), 16, device="cpu", pressure=pressure)
        solver.emit([Event(0.0, (2, 0, 0.5), 3000.0, 15.0, "impact")], 1 / 24)
        for _ in range(4):
            solver.step(1 / 24)
            solver.emit([], 1 / 24)
        return solver.velocity()

    for exact, iterative in zip(velocity_after("spectral"), velocity_after("iterative")):
        assert np.abs(exact).max() > 0.1
        assert np.allclose(exact, iterative, atol=1e-4)


@pytest.mark.gpu
def test_cuda_matches_cpu_and_is_deterministic():
    cpu = run(3, "cpu", pressure="iterative")
    gpu = run(3, "cuda")
    assert np.array_equal(gpu, run(3, "cuda"))
    assert np.allclose(cpu, gpu, atol=1e-3 * cpu.max())


def test_the_active_box_follows_the_dust_as_the_whole_grid_would():
    """The CPU solves only a box grown around the dust; a puff blown 6 m downwind
    leaves the box its burst opened and still matches the whole-grid solve."""
    events = [Event(0.0, (-8.0, 0.0, 3.0), 2000.0, 8.0, "break")]

    def last(active: bool) -> np.ndarray:
        frames = simulate_dust(
            events, (-15, -15, 0), (15, 15, 10), 36, 24, 20, device="cpu", wind=(6.0, 0, 0), active_box=active
        )
        return list(frames)[-1].density

    boxed, whole = last(True), last(False)
    x = -15 + (np.arange(20) + 0.5) * 1.5
    assert (whole.sum(axis=(1, 2)) * x).sum() / whole.sum() > -8.0 + 5.0
    assert np.abs(boxed - whole).sum() < 0.02 * whole.sum()


def test_a_cloud_drifting_on_the_wind_thins_out():
    """Carried by the wind it spreads over more cells, its peak falls and no dust is made."""
    events = [Event(0.0, (-5.0, 0.0, 4.0), 2000.0, 8.0, "break")]
    frames = list(simulate_dust(events, (-15, -15, 0), (15, 15, 12), 97, 24, 20, device="cpu", wind=(3.0, 0, 0)))
    early, late = frames[24].density, frames[96].density
    assert late.max() < 0.5 * early.max()
    assert (late > 0.01).sum() > 1.2 * (early > 0.01).sum()
    assert late.sum() <= early.sum()


def test_an_implosion_cloud_rises_past_the_roof_line():
    """The small example-like shot, imploded: at some frame the dust's highest dense
    voxel (centre) is above the roof (the active box must let the cloud climb)."""
    from setpiece.graph import run_stages
    from setpiece.stages import SHOT_STAGES
    from tests.conftest import small_spec

    spec = small_spec(trigger={"mode": "implode"}, dust={"resolution": 32})
    run = run_stages([s for s in SHOT_STAGES if s.name in ("scene", "fracture", "sim", "dust")], spec, None)
    roof = run.artifacts["scene"].height

    def top(frame) -> float:
        rho = np.asarray(frame.density, np.float32)
        h = (frame.bounds_max[2] - frame.bounds_min[2]) / rho.shape[2]
        dense = np.flatnonzero((rho > 0.1).any(axis=(0, 1)))
        return frame.bounds_min[2] + (dense.max() + 0.5) * h if len(dense) else 0.0

    tops = [top(frame) for frame in run.artifacts["dust"].frames]
    assert tops[6] < 0.5 * roof  # it starts low, at the failing ground storey
    assert max(tops) > roof
