"""The final-footage look: environment, sky, materials, glass and camera effects."""

import numpy as np
import pytest

from setpiece.artifacts import Event
from setpiece.geometry import Mesh
from setpiece.physics.fracture import fracture
from setpiece.render import fragment_meshes, make_backend, make_look
from setpiece.render.camera_fx import depth_of_field, shake_cameras
from setpiece.render.materials import GLASS, MATERIAL_ID
from setpiece.render.raster import PreviewRenderer
from setpiece.render.sky import make_sky
from setpiece.world.building import build_scene
from setpiece.world.environment import NEIGHBOUR_ID0, PAVEMENT_ID
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def street():
    spec = small_spec(render={"width": 192, "height": 108})
    scene = build_scene(spec)
    frags = fracture(scene.building, 90, 6, np.random.default_rng(3))
    meshes = fragment_meshes(scene, frags, np.random.default_rng(0))
    return spec, scene, frags, meshes


def _rest(n):
    return np.broadcast_to(np.eye(4), (n, 4, 4)).copy()


def test_street_and_neighbours_appear_in_depth_and_id_passes(street):
    spec, scene, frags, meshes = street
    backend = make_backend(spec, scene, meshes)
    passes, _ = backend.render(0, _rest(len(frags)))
    backend.close()
    for label, where in (
        ("road", passes.part == -2),
        ("pavement", passes.part == PAVEMENT_ID),
        ("neighbour", passes.part <= NEIGHBOUR_ID0),
    ):
        assert where.sum() > 20, f"no {label} pixels in the id pass"
        depth = passes.depth[where]
        assert np.isfinite(depth).all() and (depth > 0).all(), label
    # neighbours stand behind and beside the building: some are farther than it
    assert np.median(passes.depth[passes.part <= NEIGHBOUR_ID0]) > np.median(passes.depth[passes.part >= 0])


def test_environment_none_leaves_the_plain_ground(street):
    spec, scene, frags, meshes = street
    spec = spec.model_copy(update={"environment": spec.environment.model_copy(update={"kind": "none"})})
    backend = make_backend(spec, scene, meshes)
    passes, _ = backend.render(0, _rest(len(frags)))
    backend.close()
    assert passes.part.min() == -2 and (passes.part == -1).any()


def test_sky_brightens_toward_the_sun(street):
    spec = street[0]
    sky = make_sky(spec.light)
    el = np.radians(spec.light.sun_elevation)
    lum = np.array([0.2126, 0.7152, 0.0722])

    def toward(az_deg, elev):
        az = np.radians(az_deg)
        return np.array([np.cos(elev) * np.sin(az), np.cos(elev) * np.cos(az), np.sin(elev)])

    near_sun = sky.lookup(toward(spec.light.sun_azimuth + 8, el)) @ lum
    away = sky.lookup(toward(spec.light.sun_azimuth + 180, el)) @ lum
    assert near_sun > 1.5 * away
    # and it is a blue sky overhead: more blue than red at the zenith
    zenith = sky.lookup(np.array([0.0, 0.0, 1.0]))
    assert zenith[2] > zenith[0]


def test_broken_faces_are_found_geometrically(street):
    _, scene, frags, meshes = street
    cut = whole = 0
    for i, (mesh, e) in enumerate(zip(meshes, frags.element)):
        el = scene.building.elements[e]
        c = mesh.vertices[mesh.faces].mean(axis=1)
        lo, hi = np.asarray(el.lo), np.asarray(el.hi)
        gap = np.minimum(c - lo, hi - c).min(axis=1)  # distance to the nearest box plane
        broken = mesh.meta["broken"]
        assert (gap[~broken] < 2e-3).all()  # original faces lie on the element's box
        assert (~broken).any()  # every piece keeps some of its member's surface
        # a piece smaller than its member was cut from it: it has fresh faces; a whole member has none
        is_whole = abs(frags.volumes[i] - el.volume) < 1e-6 * max(el.volume, 1e-9)
        assert broken.any() != is_whole, (el.kind, el.material)
        cut += int(not is_whole)
        whole += int(is_whole)
    assert cut > 5 and whole > 5


def test_brick_joints_and_glass_shards_are_fresh_breaks():
    """Running-bond blocks of a brick wall and shards of a pane: their cuts are fresh faces."""
    spec = small_spec(building={"material": "brick", "floors": 1})
    building = build_scene(spec).building
    frags = fracture(building, 200, 6, np.random.default_rng(1))
    meshes = fragment_meshes(build_scene(spec), frags, np.random.default_rng(0))
    seen = set()
    for mesh, e in zip(meshes, frags.element):
        el = building.elements[e]
        mat = mesh.meta["material"]
        if el.material == "glass":
            assert (mat == GLASS).all()
        else:
            assert not (mat == GLASS).any()
        if el.material == "brick" and el.kind == "pier":
            assert (mat == MATERIAL_ID["brick"]).any()
        if (frags.element == e).sum() > 1:  # the member was cut
            assert mesh.meta["broken"].any()
            seen.add(el.material)
    assert {"brick", "glass", "concrete"} <= seen


def test_a_broken_face_is_lighter_than_the_weathered_facade():
    quad = np.array([[-1, 0, 0], [1, 0, 0], [1, 0, 2], [-1, 0, 2]], float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    concrete = MATERIAL_ID["concrete"]

    def wall(dx, broken):
        m = Mesh(quad + [dx, 0, 0], faces, (0.42, 0.40, 0.37), "wall")
        m.meta.update(material=np.full(2, concrete), broken=np.full(2, broken))
        return m

    from setpiece.camera import Camera

    renderer = PreviewRenderer([wall(-1.2, False), wall(1.2, True)], supersample=1)
    cam = Camera((0.0, -8.0, 1.0), (0.0, 0.0, 1.0), 28.0, 36.0, 96, 48)
    frame = renderer.render_frame(cam, None, (0.0, -1.0, 0.5), (3, 3, 3), (0.5, 0.6, 0.8), layers=True)
    renderer.release()
    part = frame.passes.part
    facade, fresh = frame.detail[part == 0].mean(axis=0), frame.detail[part == 1].mean(axis=0)
    assert (part == 0).sum() > 50 and (part == 1).sum() > 50
    assert fresh.mean() > 1.15 * facade.mean()  # lighter
    spread = [frame.detail[part == k].std(axis=0).mean() for k in (0, 1)]
    assert spread[1] > 0.01  # textured, not flat


def test_glass_panes_exist_and_are_drawn_as_glass(street):
    spec, scene, frags, meshes = street
    glass = [i for i, e in enumerate(frags.element) if scene.building.elements[e].material == "glass"]
    assert glass and all((meshes[i].meta["material"] == GLASS).all() for i in glass)
    assert not any((m.meta["material"] == GLASS).any() for i, m in enumerate(meshes) if i not in set(glass))
    look = make_look(spec, scene, meshes)
    assert not look.attached  # the building's own panes are the glass: none added on top
    backend = make_backend(spec, scene, meshes, look=look)
    n = len(frags)
    # a front-facing pane of the ground floor
    pane = min(glass, key=lambda i: meshes[i].vertices[:, 1].mean() + meshes[i].vertices[:, 2].mean())
    x, y, _ = scene.camera.project(meshes[pane].vertices.mean(axis=0)[None])[0]
    frame = backend.renderer.render_frame(scene.camera, _rest(n), scene.sun_dir, (3, 3, 3), (0.5, 0.6, 0.8), 30.0)
    opacity = frame.glass[int(y), int(x), 3]
    assert 0.1 < opacity < 0.9  # partly see-through, partly reflective
    # the glass moves with its own pieces: hide them and no glass is left
    gone = _rest(n)
    gone[glass] = 0.0
    frame = backend.renderer.render_frame(scene.camera, gone, scene.sun_dir, (3, 3, 3), (0.5, 0.6, 0.8), 30.0)
    backend.close()
    assert frame.glass[..., 3].max() == 0.0


def test_buildings_without_glass_members_get_panes_that_break_out(street):
    """Older buildings (no glass members): the look glazes the window openings itself."""
    import dataclasses

    spec, scene, _, _ = street
    building = dataclasses.replace(
        scene.building, elements=tuple(e for e in scene.building.elements if e.material != "glass")
    )
    scene = dataclasses.replace(scene, building=building)
    frags = fracture(building, 90, 6, np.random.default_rng(3))
    meshes = fragment_meshes(scene, frags, np.random.default_rng(0))
    look = make_look(spec, scene, meshes)
    assert look.attached and all((m.meta["material"] == GLASS).all() for m in look.attached)
    backend = make_backend(spec, scene, meshes, look=look)
    n = len(frags)
    pane = min(look.attached, key=lambda m: m.vertices[:, 1].mean() + m.vertices[:, 2].mean())
    x, y, _ = scene.camera.project(pane.vertices.mean(axis=0)[None])[0]
    frame = backend.renderer.render_frame(
        scene.camera, look.expand(_rest(n)), scene.sun_dir, (3, 3, 3), (0.5, 0.6, 0.8), 30.0
    )
    opacity = frame.glass[int(y), int(x), 3]
    assert 0.1 < opacity < 0.9
    # the facade around it flies off: the glass breaks out with it
    lifted = _rest(n)
    lifted[:, 2, 3] = 5.0
    frame = backend.renderer.render_frame(
        scene.camera, look.expand(lifted), scene.sun_dir, (3, 3, 3), (0.5, 0.6, 0.8), 30.0
    )
    backend.close()
    assert frame.glass[..., 3].max() == 0.0


def test_impacts_shake_the_camera_after_they_happen(street):
    spec = street[0]
    spec = spec.model_copy(update={"camera": spec.camera.model_copy(update={"shake": 1.0})})
    cam = street[1].camera
    hit = Event(time=0.5, position=(0.0, 0.0, 0.0), mass=20000.0, speed=12.0, kind="impact")
    at = shake_cameras(spec, cam, [hit])
    before, after = at(int(0.4 * spec.shot.fps)), at(int(0.6 * spec.shot.fps))
    assert before.target == cam.target
    assert after.target != cam.target
    moved = np.linalg.norm(np.subtract(after.target, cam.target))
    assert moved < 0.05 * np.linalg.norm(np.subtract(cam.target, cam.position))  # a shake, not a whip pan


def test_depth_of_field_blurs_only_out_of_focus_depths():
    rng = np.random.default_rng(0)
    rgb = rng.random((64, 96, 3)).astype(np.float32)
    depth = np.full((64, 96), 5.0)
    depth[:, 48:] = 200.0
    # a long lens wide open: the far half's circle of confusion is several pixels
    out = depth_of_field(rgb, depth, focal_mm=135.0, sensor_mm=36.0, fstop=1.4, focus=5.0)
    assert np.allclose(out[:, :40], rgb[:, :40], atol=1e-4)  # in focus: untouched
    assert out[:, 56:].std() < 0.5 * rgb[:, 56:].std()  # far: blurred


def test_neighbours_keep_clear_of_where_the_collapse_goes(street):
    from setpiece.artifacts import Motion
    from setpiece.stages.render import swept_area

    spec, scene, frags, meshes = street
    n = len(frags)
    frames = 5
    rot = np.tile([0.0, 0.0, 0.0, 1.0], (frames, n, 1))
    trans = np.zeros((frames, n, 3))
    trans[-1, :, 0] = -25.0  # everything ends up 25 m to the left
    motion = Motion(rot, trans, np.ones((frames, n), bool))
    lo, hi = swept_area(frags.centroids, motion)
    assert lo[0] < -25.0 and hi[0] > 0.0
    look = make_look(spec, scene, meshes, keep_clear=(lo, hi))
    assert sum(m.meta["part_id"] <= NEIGHBOUR_ID0 for m in look.static) > 10
    for m in look.static:
        if m.meta["part_id"] > NEIGHBOUR_ID0:
            continue
        vlo, vhi = m.vertices.min(axis=0), m.vertices.max(axis=0)
        overlaps = np.all(vlo[:2] < hi) and np.all(vhi[:2] > lo)
        assert not overlaps, f"neighbour {m.meta['part_id']} stands where the building falls"


def test_preview_is_close_to_the_final_render(street):
    """The preview is the look-dev tool: same textures, sky and light as the path tracer."""
    spec, scene, frags, meshes = street
    final_spec = spec.model_copy(update={"render": spec.render.model_copy(update={"backend": "final", "spp": 4})})
    out = {}
    for name, s in (("preview", spec), ("final", final_spec)):
        backend = make_backend(s, scene, meshes)
        out[name], _ = backend.render(0, _rest(len(frags)))
        backend.close()
    lum = np.array([0.2126, 0.7152, 0.0722])
    for label, where in (("building", out["preview"].part >= 0), ("street", out["preview"].part == -2)):
        p, f = out["preview"].beauty[where] @ lum, out["final"].beauty[where] @ lum
        # within 40%: the preview has no sky occlusion beyond its screen-space AO, so a narrow
        # street reads about a third brighter than the path tracer's
        assert abs(np.median(p) / np.median(f) - 1.0) < 0.4, label
    # pixel by pixel, the two images agree broadly (same textures, shadows where they fall)
    a, b = out["preview"].beauty @ lum, out["final"].beauty @ lum
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.85
