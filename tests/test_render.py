import numpy as np
import pytest

from setpiece.physics.fracture import fracture
from setpiece.render import fragment_meshes, make_backend
from setpiece.world.building import build_scene
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def setup():
    spec = small_spec(environment={"kind": "none"})
    scene = build_scene(spec)
    frags = fracture(scene.building, 90, 6, np.random.default_rng(3))
    return spec, scene, frags


def _rest(n):
    return np.broadcast_to(np.eye(4), (n, 4, 4)).copy()


def test_preview_draws_building_where_it_projects(setup):
    spec, scene, frags = setup
    backend = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    passes, _ = backend.render(0, _rest(len(frags)))
    backend.close()
    # the front edge of the first-floor slab faces the camera
    slab = next(e for e in scene.building.elements if e.kind == "slab")
    front = [[0.0, slab.lo[1], (slab.lo[2] + slab.hi[2]) / 2]]
    x, y, dist = scene.camera.project(np.array(front))[0]
    assert passes.part[int(y), int(x)] >= 0
    assert passes.alpha[0, 0] == 0 and passes.part[0, 0] == -1  # sky at the top corner
    assert passes.part[-1, 0] == -2  # ground at the bottom corner
    assert passes.depth[int(y), int(x)] == pytest.approx(dist, rel=0.03)


def test_windows_read_darker_than_the_facade(setup):
    spec, scene, frags = setup
    backend = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    passes, _ = backend.render(0, _rest(len(frags)))
    backend.close()
    facade = passes.part >= 0
    lum = passes.beauty.mean(axis=-1)[facade]
    # lit wall and dark window interiors both present
    assert np.percentile(lum, 95) > 4 * np.percentile(lum, 5)


def test_hidden_fragments_vanish(setup):
    spec, scene, frags = setup
    backend = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    mats = _rest(len(frags))
    mats[:] = 0.0
    passes, _ = backend.render(0, mats)
    backend.close()
    assert not np.any(passes.part >= 0)


def test_moved_fragments_move_on_screen(setup):
    spec, scene, frags = setup
    backend = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    mats = _rest(len(frags))
    mats[:, 2, 3] = 40.0  # lift everything out of frame
    passes, _ = backend.render(0, mats)
    backend.close()
    assert (passes.part >= 0).sum() < 0.01 * passes.part.size


def test_final_backend_path_traces_a_sunlit_building(setup):
    spec, scene, frags = setup
    spec = spec.model_copy(update={"render": spec.render.model_copy(update={"backend": "final", "spp": 4})})
    backend = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    passes, _ = backend.render(0, _rest(len(frags)))
    backend.close()
    building = passes.part >= 0
    assert passes.alpha[building].mean() > 0.95 and passes.alpha[0, 0] < 0.05
    assert np.isfinite(passes.beauty).all() and passes.beauty.min() >= 0
    lum = passes.beauty.mean(axis=-1)
    assert lum[building].max() > 0.3  # sunlit concrete: albedo 0.42 x sun 3 / pi + sky
    assert np.median(lum[building]) > 2 * np.median(lum[passes.part == -1] + 1e-3)  # sky is held out


@pytest.mark.gpu
def test_final_backend_on_cuda_matches_the_cpu_render(setup):
    """cuda_ad_rgb where a GPU is present: the same frame as llvm_ad_rgb, up to sampling noise."""
    spec, scene, frags = setup

    def frame(device: str) -> np.ndarray:
        render = spec.render.model_copy(update={"backend": "final", "spp": 16, "device": device})
        backend = make_backend(
            spec.model_copy(update={"render": render}), scene, fragment_meshes(scene, frags, np.random.default_rng(0))
        )
        passes, _ = backend.render(0, _rest(len(frags)))
        backend.close()
        return passes.beauty

    cpu, gpu = frame("cpu"), frame("cuda")
    assert np.isfinite(gpu).all()
    assert np.abs(gpu.mean() - cpu.mean()) < 0.05 * cpu.mean()


def test_two_live_renderers_draw_their_own_scene(setup):
    spec, scene, frags = setup
    first = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    second = make_backend(spec, scene, fragment_meshes(scene, frags, np.random.default_rng(0)))
    lifted = _rest(len(frags))
    lifted[:, 2, 3] = 40.0
    empty, _ = second.render(0, lifted)
    full, _ = first.render(0, _rest(len(frags)))
    first.close()
    second.close()
    assert (full.part >= 0).sum() > 20 * max(1, (empty.part >= 0).sum())
