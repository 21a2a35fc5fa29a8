"""Delivery as a VFX vendor's: the USD shot, Cryptomatte and camera in the EXR, the editorial clip."""

import json
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import opentimelineio as otio
import pytest

from setpiece import deliver, pipeline
from setpiece.camera import sun_direction
from setpiece.deliver import cryptomatte as crypto
from setpiece.deliver import dust_vdb_file
from setpiece.deliver.exr import read_cryptomatte
from setpiece.deliver.names import member_names
from setpiece.deliver.otio import BOARD_KEY, MP4_KEY, PNG_KEY, swap_in_take, take_clip
from setpiece.deliver.usd import member_path, validate
from setpiece.errors import OutputError
from setpiece.graph import run_stages, stage_rng
from setpiece.spec import spec_from_dict
from setpiece.stages import SHOT_STAGES
from setpiece.world.building import make_camera
from tests.test_graph import tiny

FRAMES = 8
NO_DUST_FRAME = 2  # the stand-in VDB writer leaves this frame without a file


def shot_spec():
    return tiny(
        shot={"frames": FRAMES}, trigger={"time": 0.1}, output={"exr": True, "usd": True}, environment={"kind": "none"}
    )


class StandInVdb:
    """Stands in for the dust VDB writer where none is registered: marker files named as
    the real one names them (the USD only points at them)."""

    def __init__(self, job):
        self.job = job
        (job.work / "dust").mkdir()

    def add(self, frame, passes, comp):
        if frame != NO_DUST_FRAME:
            (self.job.work / dust_vdb_file(self.job.name, frame)).write_bytes(b"stand-in")

    def close(self, ok):
        return {"vdb": "dust"}


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    out = tmp_path_factory.mktemp("deliver")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(deliver._WRITERS, "vdb", StandInVdb)
        result = pipeline.run_shot(shot_spec(), out)
    artifacts = run_stages(SHOT_STAGES, shot_spec(), out / ".cache").artifacts  # from the cache
    return result, artifacts


def open_stage(result):
    from pxr import Usd

    return Usd.Stage.Open(str(result.take_dir / "collapse.usda"))


# --------------------------------------------------------------------------- USD


def test_usd_shot_composes_one_layer_per_element(shot):
    from pxr import UsdGeom

    result, _ = shot
    stage = open_stage(result)
    layers = [Path(p).name for p in stage.GetRootLayer().subLayerPaths]
    assert layers == ["camera.usda", "lights.usda", "building.usdc", "debris.usdc", "dust.usda", "env.usdc"]
    assert all((result.take_dir / "usd" / name).is_file() for name in layers)
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (1, FRAMES)
    assert stage.GetFramesPerSecond() == 24 and stage.GetTimeCodesPerSecond() == 24
    assert stage.GetDefaultPrim().GetPath() == "/shot"


def test_usd_shot_passes_usds_validators(shot):
    result, _ = shot
    assert validate(result.take_dir / "collapse.usda") == []
    for layer in (result.take_dir / "usd").iterdir():  # each element opens on its own too
        assert validate(layer) == [], layer.name


def test_usd_validation_reports_a_broken_shot(tmp_path):
    broken = tmp_path / "broken.usda"
    broken.write_text('#usda 1.0\n(\n    subLayers = [@./missing.usdc@]\n)\ndef Xform "shot" {}\n')
    problems = validate(broken)
    assert any("upAxis" in p for p in problems) and any("missing.usdc" in p for p in problems)


def test_usd_camera_sees_what_the_render_saw(shot):
    from pxr import Gf, UsdGeom

    result, artifacts = shot
    spec = shot_spec()
    ours = make_camera(spec, artifacts["scene"])
    stage = open_stage(result)
    camera = UsdGeom.Camera(stage.GetPrimAtPath("/shot/camera"))
    assert camera.GetFocalLengthAttr().Get() * 100 == pytest.approx(spec.camera.focal_length)  # tenths of a metre
    assert camera.GetHorizontalApertureAttr().Get() * 100 == pytest.approx(spec.camera.sensor_width)
    aspect = camera.GetHorizontalApertureAttr().Get() / camera.GetVerticalApertureAttr().Get()
    assert aspect == pytest.approx(spec.render.width / spec.render.height, rel=1e-5)
    assert tuple(camera.GetClippingRangeAttr().Get()) == pytest.approx((ours.near, ours.far))
    corners = np.array([e.hi for e in artifacts["scene"].elements] + [e.lo for e in artifacts["scene"].elements])
    for time in (1, FRAMES):
        frustum = camera.GetCamera(time).frustum
        to_clip = frustum.ComputeViewMatrix() * frustum.ComputeProjectionMatrix()
        for point, expected in zip(corners, ours.project(corners)):
            clip = Gf.Vec4d(*point, 1.0) * to_clip
            x = (clip[0] / clip[3] + 1) / 2 * spec.render.width
            y = (1 - clip[1] / clip[3]) / 2 * spec.render.height
            assert (x, y) == pytest.approx(tuple(expected[:2]), abs=1e-3)


def test_usd_sun_shines_from_the_spec_direction(shot):
    from pxr import UsdGeom, UsdLux

    result, _ = shot
    stage = open_stage(result)
    sun = UsdLux.DistantLight(stage.GetPrimAtPath("/shot/lights/sun"))
    light = shot_spec().light
    world = np.array(UsdGeom.Xformable(sun.GetPrim()).ComputeLocalToWorldTransform(1))
    shines = -world[2, :3]  # row-vector matrices: row 2 is the light's +Z axis; it shines down -Z
    assert shines == pytest.approx(-sun_direction(light.sun_elevation, light.sun_azimuth), abs=1e-9)
    assert sun.GetAngleAttr().Get() == pytest.approx(0.53)
    assert sun.GetIntensityAttr().Get() == pytest.approx(light.sun_intensity)
    sky = UsdLux.DomeLight(stage.GetPrimAtPath("/shot/lights/sky"))
    assert sky.GetIntensityAttr().Get() == pytest.approx(light.sky_intensity)
    assert tuple(sky.GetColorAttr().Get()) == pytest.approx(light.sky_color)


def test_usd_fragments_sit_under_their_members_with_the_render_colours(shot):
    from pxr import UsdGeom, UsdShade

    from setpiece.render import fragment_meshes
    from setpiece.world.building import ShotScene

    result, artifacts = shot
    building, frags = artifacts["scene"], artifacts["fracture"]
    names = member_names(building)
    stage = open_stage(result)
    scene = ShotScene(building, make_camera(shot_spec(), building), np.array([0.0, 0.0, 1.0]))
    rendered = fragment_meshes(scene, frags, stage_rng(shot_spec().shot.seed, "render"))
    pieces = [np.reshape(m.color, (-1, 3)).mean(axis=0) for m in rendered]
    for i in range(0, len(frags), 7):
        prim = stage.GetPrimAtPath(f"{member_path(names[frags.element[i]])}/frag_{i:05d}")
        assert prim.IsA(UsdGeom.Mesh), i
        material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
        shader = material.ComputeSurfaceSource()[0]
        assert shader.GetIdAttr().Get() == "UsdPreviewSurface"
        same = frags.element == frags.element[i]  # the member's colour: the mean over its pieces
        colour = np.mean([pieces[k] for k in np.flatnonzero(same)], axis=0)
        assert tuple(shader.GetInput("diffuseColor").Get()) == pytest.approx(colour, abs=1e-5)
    meshes = [p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh) and p.GetName().startswith("frag_")]
    assert len(meshes) == len(frags)


def test_usd_fragments_and_debris_move_as_simulated(shot):
    from pxr import UsdGeom

    from setpiece.artifacts import quat_to_matrix

    result, artifacts = shot
    stage = open_stage(result)
    frags, sim, debris = artifacts["fracture"], artifacts["sim"], artifacts["debris"]
    names = member_names(artifacts["scene"])
    moved = int(np.argmax(np.linalg.norm(sim.translations[-1], axis=1)))
    prim = stage.GetPrimAtPath(f"{member_path(names[frags.element[moved]])}/frag_{moved:05d}")
    centre = frags.vertices[moved].mean(axis=0)
    for frame in (0, FRAMES // 2, FRAMES - 1):
        at = UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(frame + 1).ExtractTranslation()
        q = sim.rotations[frame, moved][None].astype(float)
        expected = quat_to_matrix(q)[0] @ centre + sim.translations[frame, moved]
        assert tuple(at) == pytest.approx(tuple(expected), abs=1e-4)
    instancer = UsdGeom.PointInstancer(stage.GetPrimAtPath("/shot/debris"))
    last = FRAMES
    assert np.asarray(instancer.GetPositionsAttr().Get(last)) == pytest.approx(debris.motion.translations[-1], abs=1e-4)
    quats = np.array([[*q.GetImaginary(), q.GetReal()] for q in instancer.GetOrientationsAttr().Get(last)])
    assert quats == pytest.approx(debris.motion.rotations[-1], abs=2e-3)  # half floats


def test_usd_dust_volume_points_at_each_frames_vdb(shot):
    from pxr import UsdGeom, UsdVol

    result, artifacts = shot
    stage = open_stage(result)
    volume = UsdVol.Volume(stage.GetPrimAtPath("/shot/dust"))
    assert volume.HasFieldRelationship("density")
    field = UsdVol.OpenVDBAsset(stage.GetPrimAtPath(volume.GetFieldPath("density")))
    assert field.GetFieldNameAttr().Get() == "density"
    for frame in range(FRAMES):
        shown = volume.ComputeVisibility(frame + 1) != UsdGeom.Tokens.invisible
        assert shown == (frame != NO_DUST_FRAME), frame
        if shown:
            asset = field.GetFilePathAttr().Get(frame + 1)
            assert Path(asset.resolvedPath) == result.take_dir / f"dust/collapse.{frame + 1:04d}.vdb"
    assert field.GetFilePathAttr().GetTimeSamples() == [t + 1 for t in range(FRAMES) if t != NO_DUST_FRAME]
    lo, hi = volume.GetExtentAttr().Get()
    assert tuple(lo) == pytest.approx(artifacts["dust"][0].bounds_min)


# --------------------------------------------------------------------------- EXR


def exr_spec(result, frame: int):
    return oiio.ImageInput.open(str(result.take_dir / "exr" / f"collapse.{frame:04d}.exr")).spec()


def test_exr_declares_cryptomatte_per_spec(shot):
    result, artifacts = shot
    spec = exr_spec(result, FRAMES)
    key = crypto.metadata_key("CryptoObject")
    assert spec.getattribute(f"cryptomatte/{key}/name") == "CryptoObject"
    assert spec.getattribute(f"cryptomatte/{key}/hash") == "MurmurHash3_32"
    assert spec.getattribute(f"cryptomatte/{key}/conversion") == "uint32_to_float32"
    manifest = json.loads(spec.getattribute(f"cryptomatte/{key}/manifest"))
    expected = set(member_names(artifacts["scene"])) | {"debris", "dust", "ground", "pavement", "neighbours"}
    assert set(manifest) == expected
    assert manifest["floor00/pier_0"] == f"{crypto.id_bits('floor00/pier_0'):08x}"
    crypto_channels = [n for n in spec.channelnames if n.startswith("CryptoObject")]
    assert crypto_channels[:4] == ["CryptoObject00.R", "CryptoObject00.G", "CryptoObject00.B", "CryptoObject00.A"]
    names = list(spec.channelnames)
    assert all(spec.channelformat(names.index(n)) == oiio.FLOAT for n in crypto_channels)  # IDs are float bits


def test_exr_matte_of_a_member_matches_the_id_pass(shot):
    result, artifacts = shot
    frags = artifacts["fracture"]
    names = member_names(artifacts["scene"])
    path = result.take_dir / "exr" / f"collapse.{FRAMES:04d}.exr"
    channels, manifest = read_cryptomatte(path)
    image = oiio.ImageBuf(str(path))
    part = image.get_pixels(oiio.FLOAT)[..., list(image.spec().channelnames).index("id")].astype(int)
    member_of_part = np.array([names[e] for e in frags.element] + ["debris"] * 1000)
    labels = np.where(part >= 0, member_of_part[np.clip(part, 0, None)], np.where(part == -2, "ground", ""))
    shown, counts = np.unique(labels[part >= 0], return_counts=True)
    member = shown[np.argmax(counts)]
    assert member in manifest
    for name in (member, "ground"):
        matte = crypto.decode(channels, name)
        sampled = labels == name
        assert sampled.sum() > 10, name
        assert (matte[sampled] > 0).all(), name  # every pixel the id pass gives it is in its matte
        assert (labels[matte >= 0.999] == name).all(), name  # a full matte is that name's pixels
        near = _dilate(sampled)
        assert (near[matte > 0]).all(), name  # partial coverage only on its edges
    assert np.all(channels[..., 1::2].sum(axis=-1) <= 1.0 + 1e-5)


def _dilate(mask):
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)


def test_exr_header_holds_the_camera_and_working_space(shot):
    result, artifacts = shot
    spec = exr_spec(result, 1)
    render = shot_spec().render
    camera = make_camera(shot_spec(), artifacts["scene"])
    to_ndc = np.array(spec.getattribute("worldToNDC")).reshape(4, 4)
    to_camera = np.array(spec.getattribute("worldToCamera")).reshape(4, 4)
    points = np.array([e.hi for e in artifacts["scene"].elements])
    homogeneous = np.c_[points, np.ones(len(points))]
    ndc = homogeneous @ to_ndc  # Imath: row vectors
    ndc = ndc[:, :2] / ndc[:, 3:4]
    pixels = camera.project(points)
    assert ndc * [render.width, render.height] == pytest.approx(pixels[:, :2], abs=1e-2)
    in_camera = homogeneous @ to_camera
    assert in_camera[:, 2] == pytest.approx(pixels[:, 2], abs=1e-4)  # +z forward: the view depth
    assert in_camera[0, :3] == pytest.approx(homogeneous[0] @ to_camera[:, :3], abs=1e-9)
    chroma = spec.getattribute("chromaticities")
    assert chroma == pytest.approx((0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290), abs=1e-6)


def test_cryptomatte_ids_follow_the_published_conversion():
    # the specification's own manifest example
    assert f"{crypto.id_bits('bunny'):08x}" == "13851a76"
    assert f"{crypto.id_bits('default'):08x}" == "42c9679f"
    # exponents 0 and 255 (denormals, NaN, inf) are clamped into [1, 254]
    clamped = [n for n in (f"n{i}" for i in range(3000)) if ((crypto.hash_uint32(n) >> 23) & 0xFF) in (0, 255)]
    assert clamped
    for name in clamped:
        value = crypto.id_float(name)
        assert np.isfinite(value) and abs(value) >= np.finfo(np.float32).tiny


def test_cryptomatte_ranks_by_coverage_and_decodes_back():
    a, b, c = crypto.id_float("a"), crypto.id_float("b"), crypto.id_float("c")
    ids = np.array([[[a]], [[b]], [[c]]], np.float32)
    coverage = np.array([[[0.2]], [[0.7]], [[0.0]]], np.float32)
    channels = crypto.encode(ids, coverage, ranks=4)
    assert channels[0, 0].tolist() == pytest.approx([b, 0.7, a, 0.2, 0.0, 0.0, 0.0, 0.0])
    assert crypto.decode(channels, "a")[0, 0] == pytest.approx(0.2)
    assert crypto.decode(channels, "c")[0, 0] == 0.0


def test_reading_cryptomatte_from_an_exr_without_it_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.exr"
    oiio.ImageBuf(oiio.ImageSpec(4, 4, 3, oiio.FLOAT)).write(str(path))
    with pytest.raises(OutputError, match="no CryptoObject channels"):
        read_cryptomatte(path)


# --------------------------------------------------------------------------- editorial


def test_take_otio_references_the_exr_sequence_and_the_movie(shot):
    result, _ = shot
    path = result.take_dir / "collapse.otio"
    clip = otio.adapters.read_from_file(str(path)).find_clips()[0]
    exr = clip.media_reference
    assert isinstance(exr, otio.schema.ImageSequenceReference)
    assert exr.number_of_images_in_sequence() == FRAMES
    for frame in (1, FRAMES):
        url = exr.target_url_for_image_number(frame - exr.start_frame)
        assert (result.take_dir / url).is_file(), url
    assert clip.source_range.duration.value == FRAMES and clip.source_range.duration.rate == 24
    movie = clip.media_references()[MP4_KEY]
    assert (result.take_dir / movie.target_url).is_file()
    png = clip.media_references()[PNG_KEY]
    assert (result.take_dir / png.target_url_for_image_number(FRAMES - 1)).is_file()
    meta = clip.metadata["setpiece"]
    assert spec_from_dict(dict(meta["spec"])) == shot_spec()
    assert meta["report"] is None  # no report.json in this take


def test_a_take_replaces_its_board_in_the_animatic(shot, tmp_path):
    result, _ = shot
    report = {"sim": {"energy": 1.5}}
    (result.take_dir / "report.json").write_text(json.dumps(report))
    try:
        animatic = tmp_path / "previz" / "v001"
        animatic.mkdir(parents=True)
        timeline = _animatic([("1", 12), ("2", 5), ("3", 10)])
        clip = swap_in_take(timeline, "2", result.take_dir, relative_to=animatic)
    finally:
        (result.take_dir / "report.json").unlink()
    assert [c.name for c in timeline.find_clips()] == ["1", "2", "3"]
    assert clip.source_range.duration.value == 5  # the board's length: the cut holds
    assert (animatic / clip.media_reference.target_url_for_image_number(0)).resolve().is_file()
    assert (animatic / clip.media_references()[MP4_KEY].target_url).resolve().is_file()
    assert clip.media_references()[BOARD_KEY].target_url == "boards/2.png"
    assert dict(clip.metadata["setpiece"]["report"]["sim"]) == report["sim"]
    longer = swap_in_take(timeline, "3", result.take_dir, relative_to=animatic)  # 10 > 8 frames
    track = timeline.tracks[0]
    assert longer.source_range.duration.value == FRAMES
    assert isinstance(track[track.index(longer) + 1], otio.schema.Gap)
    assert track.duration().value == 12 + 5 + 10
    with pytest.raises(OutputError, match="no clip named '9'"):
        swap_in_take(timeline, "9", result.take_dir)


def _animatic(boards):
    timeline = otio.schema.Timeline(name="animatic")
    track = otio.schema.Track(name="boards")
    for name, frames in boards:
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(frames, 24))
        ref = otio.schema.ExternalReference(target_url=f"boards/{name}.png", available_range=span)
        track.append(otio.schema.Clip(name=name, media_reference=ref, source_range=span))
    timeline.tracks.append(track)
    return timeline


def test_take_clip_needs_a_take_folder(tmp_path):
    with pytest.raises(OutputError, match="should hold one NAME.otio"):
        take_clip(tmp_path)


def test_an_editorial_clip_without_frames_to_cut_stops_before_rendering(shot, monkeypatch):
    result, _ = shot

    def no_render(*args, **kwargs):
        raise AssertionError("the bad [output] should stop the run before any frame renders")

    monkeypatch.setattr("setpiece.render.preview.PreviewBackend.render", no_render)
    frameless = {"png": False, "exr": False, "mp4": False, "usd": False, "otio": True}
    with pytest.raises(OutputError, match="output.otio needs frames to cut"):
        pipeline.run_shot(
            tiny(shot={"frames": FRAMES}, trigger={"time": 0.1}, output=frameless), result.take_dir.parent
        )


def test_cryptomatte_dust_covers_what_lies_beneath():
    from types import SimpleNamespace

    from setpiece.artifacts import Passes
    from setpiece.deliver.exr import IdTable, dust_alpha

    h, w = 2, 3
    part = np.array([[0, 0, -2], [1, -1, -2]], np.int32)
    matte = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    alpha = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    zeros = np.zeros((h, w))
    passes = Passes(np.zeros((h, w, 3)), alpha, zeros, np.zeros((h, w, 3)), part, np.zeros((h, w, 2)), zeros, matte)
    dust = np.zeros((h, w, 4))
    dust[..., 3] = [[0.0, 0.25, 0.5], [0.0, 1.0, 0.0]]
    channels = IdTable(["floor00/slab_0", "debris"]).channels(passes, dust_alpha(SimpleNamespace(dust=dust)))
    assert crypto.decode(channels, "dust") == pytest.approx(dust[..., 3])
    assert crypto.decode(channels, "floor00/slab_0") == pytest.approx(np.array([[1.0, 0.75, 0.0], [0.0, 0.0, 0.0]]))
    assert crypto.decode(channels, "ground") == pytest.approx(np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 1.0]]))
    assert crypto.decode(channels, "debris") == pytest.approx(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert channels[..., 1::2].sum(axis=-1) == pytest.approx(alpha * (1 - dust[..., 3]) + dust[..., 3])


def test_cryptomatte_edge_pixel_whose_sample_missed_takes_its_neighbours_member():
    from setpiece.artifacts import Passes
    from setpiece.deliver.exr import IdTable

    part = np.array([[0, -1, -1]], np.int32)  # the middle pixel's sample missed the member
    matte = np.array([[1.0, 0.4, 0.0]])
    zeros = np.zeros((1, 3))
    passes = Passes(np.zeros((1, 3, 3)), matte, zeros, np.zeros((1, 3, 3)), part, np.zeros((1, 3, 2)), zeros, matte)
    channels = IdTable(["floor01/pier_2"]).channels(passes)
    assert crypto.decode(channels, "floor01/pier_2") == pytest.approx(np.array([[1.0, 0.4, 0.0]]))
