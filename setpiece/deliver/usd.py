"""The take as a USD shot: NAME.usda at the take's root, one layer per element under usd/.

    NAME.usda            stage metadata (Z up, metres, frame range and rate) and
                         the sublayers, strongest first:
    usd/camera.usda      /shot/camera: the render camera (animated transform, lens,
                         apertures, clipping) and /Render/settings (resolution)
    usd/lights.usda      /shot/lights/sun (DistantLight) and /shot/lights/sky (DomeLight)
    usd/building.usdc    /shot/building/floorNN/floorNN_KIND_K/frag_NNNNN: each fragment under
                         its structural member, keyed translate/orient/visibility, one
                         UsdPreviewSurface per member in /shot/building/looks
    usd/debris.usdc      /shot/debris: the chunks as one PointInstancer
    usd/dust.usda        /shot/dust: a Volume whose OpenVDBAsset field holds a time sample
                         per frame that has a VDB file (dust/NAME.NNNN.vdb), written by
                         the VDB writer with its grid transform in world metres
    usd/env.usdc         /shot/env: what surrounds the building (today the ground;
                         street and neighbours go here too)

Each layer opens on its own as well (each carries the same stage metadata), so a
department can work on one element. Camera lens values follow UsdGeomCamera's
units, tenths of a scene unit: with metres, a 28 mm lens is focalLength 0.28.
Light intensities are the renderer's scene-linear values (a DistantLight's is
the irradiance it gives a surface facing it), not photometric units.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from setpiece.deliver import DeliverJob, dust_vdb_file
from setpiece.deliver.names import member_names
from setpiece.deliver.writers import atomic

ROOT = "/shot"
LAYER_DIR = "usd"
SUN_ANGLE = 0.53  # degrees: the sun's apparent diameter
GROUND_SIZE = 400.0  # metres, as the preview renderer's ground
GROUND_COLOR = (0.2, 0.19, 0.18)


class UsdShot:
    """Writes the shot's USD once the frames (and the dust VDBs) are written."""

    late = True  # points at the VDB files the frame writers leave

    def __init__(self, job: DeliverJob):
        self.job = job

    def add(self, frame: int, passes, comp) -> None:
        pass

    def close(self, ok: bool) -> dict[str, str]:
        if not ok:
            return {}
        root = write_shot(self.job)
        return {"usd": root.name}


def write_shot(job: DeliverJob) -> Path:
    """Every element layer that has content (a fill returns False when its element is
    absent: no debris, no dust files), then the root that composes them."""
    folder = job.work / LAYER_DIR
    folder.mkdir(exist_ok=True)
    layers: list[tuple[str, Callable]] = [
        ("camera.usda", _camera_layer),
        ("lights.usda", _lights_layer),
        ("building.usdc", _building_layer),
        ("debris.usdc", _debris_layer),
        ("dust.usda", _dust_layer),
        ("env.usdc", _env_layer),
    ]
    written = []
    for file, fill in layers:
        stage = _new_stage(job)
        if fill(stage, job) is not False:
            _save(stage, folder / file)
            written.append(f"./{LAYER_DIR}/{file}")
    root = job.work / f"{job.name}.usda"
    tmp = atomic(root).with_suffix(root.suffix)  # beside the layers, so their paths resolve
    stage = _new_stage(job, kind="assembly", path=tmp)
    layer = stage.GetRootLayer()
    layer.documentation = f"setpiece shot {job.name}: {job.frames} frames at {job.fps:g} fps"
    layer.subLayerPaths = written
    layer.Save()
    del stage, layer
    os.replace(tmp, root)
    return root


def _new_stage(job: DeliverJob, kind: str | None = None, path: Path | None = None):
    """A stage (in memory unless a path is given) with the shot's metadata and its
    /shot prim, the default prim."""
    from pxr import Kind, Usd, UsdGeom

    stage = Usd.Stage.CreateNew(str(path)) if path else Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, UsdGeom.LinearUnits.meters)
    stage.SetStartTimeCode(1)
    stage.SetEndTimeCode(max(job.frames, 1))
    stage.SetTimeCodesPerSecond(job.fps)
    stage.SetFramesPerSecond(job.fps)
    root = UsdGeom.Xform.Define(stage, ROOT).GetPrim()
    if kind:
        Usd.ModelAPI(root).SetKind(Kind.Tokens.assembly)
    stage.SetDefaultPrim(root)
    return stage


def _save(stage, path: Path) -> None:
    tmp = atomic(path).with_suffix(path.suffix)  # the format follows the extension
    stage.GetRootLayer().Export(str(tmp))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- camera


def _camera_layer(stage, job: DeliverJob):
    from pxr import Gf, Sdf, UsdGeom, UsdRender

    cam = job.camera
    camera = UsdGeom.Camera.Define(stage, f"{ROOT}/camera")
    tenth_unit_mm = 100.0  # millimetres per tenth of a metre
    camera.CreateProjectionAttr(UsdGeom.Tokens.perspective)
    camera.CreateFocalLengthAttr(cam.focal_length / tenth_unit_mm)
    camera.CreateHorizontalApertureAttr(cam.sensor_width / tenth_unit_mm)
    camera.CreateVerticalApertureAttr(cam.sensor_width / cam.aspect / tenth_unit_mm)
    camera.CreateClippingRangeAttr(Gf.Vec2f(cam.near, cam.far))
    xform = camera.AddTransformOp()
    world_from_camera = np.linalg.inv(cam.view_matrix())  # USD cameras look down -Z, Y up: as ours
    for time in (1.0, float(max(job.frames, 1))):  # the camera holds still; keys bound the shot
        xform.Set(Gf.Matrix4d(world_from_camera.T.tolist()), time)
    settings = UsdRender.Settings.Define(stage, "/Render/settings")
    settings.CreateResolutionAttr(Gf.Vec2i(job.width, job.height))
    settings.CreatePixelAspectRatioAttr(1.0)
    settings.CreateCameraRel().SetTargets([Sdf.Path(f"{ROOT}/camera")])


# --------------------------------------------------------------------------- lights


def _lights_layer(stage, job: DeliverJob):
    from pxr import Gf, UsdGeom, UsdLux

    light = job.spec.light
    UsdGeom.Xform.Define(stage, f"{ROOT}/lights")
    sun = UsdLux.DistantLight.Define(stage, f"{ROOT}/lights/sun")
    sun.CreateAngleAttr(SUN_ANGLE)
    sun.CreateIntensityAttr(light.sun_intensity)
    sun.CreateColorAttr(Gf.Vec3f(*light.sun_color))
    sun.AddTransformOp().Set(Gf.Matrix4d(_aim_z(np.asarray(job.sun, float)).T.tolist()))
    sky = UsdLux.DomeLight.Define(stage, f"{ROOT}/lights/sky")
    sky.CreateIntensityAttr(light.sky_intensity)
    sky.CreateColorAttr(Gf.Vec3f(*light.sky_color))


def _aim_z(direction: np.ndarray) -> np.ndarray:
    """A rotation whose +Z is `direction`: a DistantLight shines down its -Z, so aiming
    +Z at the sun makes it light the scene from there."""
    z = direction / np.linalg.norm(direction)
    up = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.999 else np.array([0.0, 1.0, 0.0])
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = x, np.cross(z, x), z
    return m


# --------------------------------------------------------------------------- materials


def _preview_material(stage, path: str, color, roughness: float = 0.9):
    """A UsdPreviewSurface material of one base colour."""
    from pxr import Gf, Sdf, UsdShade

    material = UsdShade.Material.Define(stage, path)
    shader = UsdShade.Shader.Define(stage, f"{path}/surface")
    shader.CreateIdAttr("UsdPreviewSurface")
    shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*map(float, color)))
    shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(roughness)
    shader.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    return material


def _bind(prim, material) -> None:
    from pxr import UsdShade

    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material)


def member_colors(job: DeliverJob) -> np.ndarray:
    """(elements, 3) base colour per member, as the renderer tints them (the same seeded draw)."""
    from setpiece.graph import stage_rng
    from setpiece.render import fragment_meshes
    from setpiece.world.building import ShotScene

    building, frags = job.inputs["scene"], job.inputs["fracture"]
    scene = ShotScene(building, job.camera, job.sun)
    meshes = fragment_meshes(scene, frags, stage_rng(job.spec.shot.seed, "render"))
    colors = np.tile(np.asarray(building.color, float), (len(building.elements), 1))
    sums, counts = np.zeros_like(colors), np.zeros(len(colors))
    for mesh, element in zip(meshes, frags.element):  # a member's colour: the mean over its pieces' faces
        sums[element] += np.reshape(mesh.color, (-1, 3)).mean(axis=0)
        counts[element] += 1
    seen = counts > 0
    colors[seen] = sums[seen] / counts[seen, None]
    return colors


# --------------------------------------------------------------------------- building


def _mesh(stage, path: str, points: np.ndarray, faces: np.ndarray, color):
    from pxr import Gf, UsdGeom, Vt

    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points.astype(np.float32)))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(faces.reshape(-1).astype(np.int32)))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*points.min(axis=0)), Gf.Vec3f(*points.max(axis=0))]))
    mesh.CreateDisplayColorAttr([Gf.Vec3f(*map(float, color))])
    return mesh


def member_path(name: str) -> str:
    """USD path of a member: "floor02/column_3" -> /shot/building/floor02/floor02_column_3.
    The storey repeats in the prim's own name so it stays unique where a tool (Blender)
    flattens the hierarchy into one namespace of object names."""
    floor = name.split("/", 1)[0]
    return f"{ROOT}/building/{floor}/{name.replace('/', '_')}"


def _building_layer(stage, job: DeliverJob):
    """Members as Xforms with their materials (Usd API: a few hundred prims), then the
    fragments written straight into the layer in one change block: through the Usd API
    every prim, op and time sample recomposes the stage, which took most of the time."""
    from pxr import Sdf, UsdGeom

    building, frags, sim = job.inputs["scene"], job.inputs["fracture"], job.inputs["sim"]
    names = member_names(building)
    colors = member_colors(job)
    UsdGeom.Xform.Define(stage, f"{ROOT}/building")
    stage.DefinePrim(f"{ROOT}/building/looks", "Scope")
    materials = {}
    for element in sorted(set(int(e) for e in frags.element)):
        path = member_path(names[element])
        for part in (path.rsplit("/", 1)[0], path):
            if not stage.GetPrimAtPath(part):
                UsdGeom.Xform.Define(stage, part)
        look = f"{ROOT}/building/looks/{names[element].replace('/', '_')}"
        materials[element] = _preview_material(stage, look, colors[element]).GetPath()
    layer = stage.GetRootLayer()
    with Sdf.ChangeBlock():
        for i, (v, f, element) in enumerate(zip(frags.vertices, frags.faces, frags.element)):
            centre = v.mean(axis=0)
            prim = _mesh_spec(layer, f"{member_path(names[element])}/frag_{i:05d}", v - centre, f, colors[element])
            _bind_spec(prim, materials[int(element)])
            _animate(prim, i, centre, sim)


def _mesh_spec(layer, path: str, points: np.ndarray, faces: np.ndarray, color):
    """A triangle Mesh authored as specs, as UsdGeom.Mesh would author it."""
    from pxr import Gf, Sdf, Vt

    names = Sdf.ValueTypeNames
    prim = Sdf.CreatePrimInLayer(layer, path)
    prim.specifier, prim.typeName = Sdf.SpecifierDef, "Mesh"
    points = points.astype(np.float32)
    values = [
        ("points", names.Point3fArray, Vt.Vec3fArray.FromNumpy(points), False),
        ("faceVertexCounts", names.IntArray, Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)), False),
        ("faceVertexIndices", names.IntArray, Vt.IntArray.FromNumpy(faces.reshape(-1).astype(np.int32)), False),
        ("subdivisionScheme", names.Token, "none", True),
        ("extent", names.Float3Array, Vt.Vec3fArray.FromNumpy(np.stack([points.min(0), points.max(0)])), False),
        ("primvars:displayColor", names.Color3fArray, Vt.Vec3fArray([Gf.Vec3f(*map(float, color))]), False),
    ]
    for name, kind, value, uniform in values:
        variability = Sdf.VariabilityUniform if uniform else Sdf.VariabilityVarying
        Sdf.AttributeSpec(prim, name, kind, variability).default = value
    return prim


def _bind_spec(prim, material_path) -> None:
    """What UsdShade.MaterialBindingAPI.Bind authors: the applied schema and the relationship."""
    from pxr import Sdf

    prim.SetInfo("apiSchemas", Sdf.TokenListOp.Create(prependedItems=["MaterialBindingAPI"]))
    binding = Sdf.RelationshipSpec(prim, "material:binding", custom=False)
    binding.targetPathList.explicitItems = [material_path]


def _animate(prim, i, centre, sim) -> None:
    """translate/orient keyed only where motion changes (ends of static spans keep
    interpolation exact); visibility, held not interpolated, where it changes."""
    from pxr import Gf, Sdf

    from setpiece.artifacts import quat_to_matrix

    names = Sdf.ValueTypeNames
    translate = Sdf.AttributeSpec(prim, "xformOp:translate", names.Double3)
    orient = Sdf.AttributeSpec(prim, "xformOp:orient", names.Quatf)
    order = Sdf.AttributeSpec(prim, "xformOpOrder", names.TokenArray, Sdf.VariabilityUniform)
    order.default = ["xformOp:translate", "xformOp:orient"]
    visibility = Sdf.AttributeSpec(prim, "visibility", names.Token)
    q = sim.rotations[:, i].astype(float)
    t = sim.translations[:, i] + np.einsum("fij,j->fi", quat_to_matrix(q), centre)
    vis = sim.visible[:, i]
    keys = np.c_[np.round(q, 6), np.round(t, 5)]
    change = np.any(keys[1:] != keys[:-1], axis=1)
    needed = np.zeros(sim.frames, bool)
    needed[[0, -1]] = True
    needed[1:] |= change
    needed[:-1] |= change
    frames = np.flatnonzero(needed)
    layer, translate, orient = prim.layer, translate.path, orient.path
    for time, v, r in zip((frames + 1.0).tolist(), t[frames].tolist(), q[frames].tolist()):
        layer.SetTimeSample(translate, time, Gf.Vec3d(*v))
        layer.SetTimeSample(orient, time, Gf.Quatf(r[3], r[0], r[1], r[2]))
    for frame in np.flatnonzero(np.r_[True, vis[1:] != vis[:-1]]).tolist():
        layer.SetTimeSample(visibility.path, frame + 1.0, "inherited" if vis[frame] else "invisible")


# --------------------------------------------------------------------------- debris


def _debris_layer(stage, job: DeliverJob):
    """Debris chunks as one PointInstancer over a few prototype shapes, keyed every frame."""
    from pxr import UsdGeom, Vt

    from setpiece.geometry import BOX_FACES
    from setpiece.physics.debris import PROTOTYPES

    debris = job.inputs.get("debris")
    if debris is None:
        return False
    color = job.inputs["scene"].color
    inst = UsdGeom.PointInstancer.Define(stage, f"{ROOT}/debris")
    material = _preview_material(stage, f"{ROOT}/debris/looks/debris", color)
    protos = stage.DefinePrim(f"{ROOT}/debris/prototypes", "Scope")
    rel = inst.CreatePrototypesRel()
    # prototypes are rebuilt from the same seeded shapes the renderer used
    shapes = [m.vertices / m.meta["scale"] for m in debris.meshes[:PROTOTYPES]]
    for k, verts in enumerate(shapes):
        mesh = _mesh(stage, f"{protos.GetPath()}/chunk_{k}", verts, BOX_FACES, color)
        _bind(mesh.GetPrim(), material)
        rel.AddTarget(mesh.GetPath())
    n = len(debris.meshes)
    inst.CreateProtoIndicesAttr(Vt.IntArray.FromNumpy(np.arange(n, dtype=np.int32) % len(shapes)))
    scales = np.repeat(debris.scales[:, None], 3, axis=1).astype(np.float32)
    inst.CreateScalesAttr(Vt.Vec3fArray.FromNumpy(scales))
    positions, orients, hidden = (
        inst.CreatePositionsAttr(),
        inst.CreateOrientationsAttr(),
        inst.CreateInvisibleIdsAttr(),
    )
    motion = debris.motion
    for frame in range(motion.frames):
        time = float(frame + 1)
        positions.Set(Vt.Vec3fArray.FromNumpy(motion.translations[frame].astype(np.float32)), time)
        # GfQuath holds (i, j, k, real): the motion's x, y, z, w order
        orients.Set(Vt.QuathArray.FromNumpy(motion.rotations[frame].astype(np.float16)), time)
        hidden.Set(Vt.Int64Array.FromNumpy(np.flatnonzero(~motion.visible[frame]).astype(np.int64)), time)


# --------------------------------------------------------------------------- dust


def _dust_layer(stage, job: DeliverJob):
    """The dust as a Volume whose density field is the frame's VDB file, one time sample
    per frame that has a file. Frames the VDB writer left without one (no dust yet)
    make the volume invisible: a held sample would show another frame's dust."""
    from pxr import Gf, UsdGeom, UsdVol

    dust = job.inputs.get("dust")
    files = [dust_vdb_file(job.name, frame) for frame in range(job.frames)]
    present = [(job.work / f).is_file() for f in files]
    if dust is None or not any(present):
        return False
    volume = UsdVol.Volume.Define(stage, f"{ROOT}/dust")
    field = UsdVol.OpenVDBAsset.Define(stage, f"{ROOT}/dust/density")
    field.CreateFieldNameAttr("density")
    path, visibility = field.CreateFilePathAttr(), volume.CreateVisibilityAttr()
    for frame, (file, there) in enumerate(zip(files, present)):
        time = float(frame + 1)
        if there:
            path.Set(f"../{file}", time)  # relative to this layer, in usd/
        if frame == 0 or there != present[frame - 1]:
            visibility.Set(UsdGeom.Tokens.inherited if there else UsdGeom.Tokens.invisible, time)
    volume.CreateFieldRelationship("density", field.GetPath())
    first = dust[0]
    volume.CreateExtentAttr([Gf.Vec3f(*map(float, first.bounds_min)), Gf.Vec3f(*map(float, first.bounds_max))])


# --------------------------------------------------------------------------- environment


def _env_layer(stage, job: DeliverJob):
    """The ground the building stands on (a square at z = 0, as the renderer draws it)."""
    from pxr import UsdGeom

    UsdGeom.Xform.Define(stage, f"{ROOT}/env")
    h = GROUND_SIZE / 2
    points = np.array([[-h, -h, 0.0], [h, -h, 0.0], [h, h, 0.0], [-h, h, 0.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    ground = _mesh(stage, f"{ROOT}/env/ground", points, faces, GROUND_COLOR)
    _bind(ground.GetPrim(), _preview_material(stage, f"{ROOT}/env/looks/ground", GROUND_COLOR, roughness=1.0))


# --------------------------------------------------------------------------- checks


def validate(path: str | Path) -> list[str]:
    """Problems found by every validator USD registers (what `usdchecker` runs, for the
    usd-core wheel ships no command-line tools): one line each, empty when clean."""
    from pxr import Usd, UsdValidation

    stage = Usd.Stage.Open(str(path))
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    lines = []
    for error in errors:
        validator = error.GetValidator()
        name = validator.GetMetadata().name if validator else "usd"
        lines.append(f"{name}: {error.GetMessage()}")
    return lines
