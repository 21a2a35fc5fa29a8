"""Deliver stage: EXR/PNG frames, MP4, and a USD cache of the animated fragments.

Every writer puts its file next to its final name first and renames it in
place, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from setpiece.artifacts import Passes
from setpiece.errors import OutputError


def _atomic(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


@contextmanager
def _output_errors(path: Path):
    """An OSError while writing (full disk, quota, permissions) becomes one OutputError
    line naming the file, worded as the stage graph words it."""
    from setpiece.graph import describe_os_error

    try:
        yield
    except OutputError:
        raise
    except OSError as err:
        if not err.filename:  # PIL and PyAV often leave it out
            err.filename = str(path)
        raise OutputError(describe_os_error(err)) from None


def write_png(path: Path, rgb8: np.ndarray) -> None:
    from PIL import Image

    tmp = _atomic(path)
    with _output_errors(path):
        Image.fromarray(rgb8).save(tmp, format="PNG")
        os.replace(tmp, path)


EXR_CHANNELS = (
    "R",
    "G",
    "B",
    "A",
    "comp.R",
    "comp.G",
    "comp.B",
    "Z",
    "N.X",
    "N.Y",
    "N.Z",
    "motion.X",
    "motion.Y",
    "shadow",
    "matte",
    "id",
)


def write_exr(path: Path, passes: Passes, comp: np.ndarray) -> None:
    """Multi-channel EXR, scene-linear: the CG layer as premultiplied RGBA, the
    composite as comp.RGB, and AOVs: Z depth (m), N world normals, motion
    (pixels since the last frame), ground shadow, object matte, fragment id."""
    import OpenImageIO as oiio

    h, w = passes.alpha.shape
    depth = np.where(np.isfinite(passes.depth), passes.depth, 1e10)
    channels = np.dstack(
        [
            passes.beauty,
            passes.alpha,
            comp,
            depth,
            passes.normal,
            passes.motion,
            passes.shadow,
            passes.matte,
            passes.part.astype(np.float32),
        ]
    )
    names = EXR_CHANNELS
    spec = oiio.ImageSpec(w, h, len(names), oiio.FLOAT)
    spec.channelnames = names
    full = {"Z", "id", "motion.X", "motion.Y"}  # exact values, not half floats
    spec.channelformats = tuple(oiio.FLOAT if n in full else oiio.HALF for n in names)
    spec.attribute("compression", "zip")
    spec.attribute("oiio:ColorSpace", "lin_rec709_scene")
    tmp = _atomic(path)
    out = oiio.ImageOutput.create(str(path))
    if out is None or not out.open(str(tmp), spec):
        raise OutputError(f"cannot write EXR {path}: {oiio.geterror()}")
    ok = out.write_image(np.ascontiguousarray(channels, np.float32))
    out.close()
    if not ok:
        raise OutputError(f"cannot write EXR {path}: {oiio.geterror()}")
    with _output_errors(path):
        os.replace(tmp, path)


class Mp4Writer:
    """H.264 (libx264, yuv420p) movie written frame by frame."""

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 18):
        import av

        self.path, self.tmp = path, _atomic(path)
        with _output_errors(path):
            self.container = av.open(str(self.tmp), mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=round(fps))
        self.stream.width, self.stream.height = width - width % 2, height - height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self._av = av

        self.frames = 0

    def add(self, rgb8: np.ndarray) -> None:
        h, w = self.stream.height, self.stream.width
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb8[:h, :w]), format="rgb24")
        with _output_errors(self.path):
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Finish the movie; with no frame added (the run failed first) just drop it,
        so the error that stopped the run is the one reported."""
        if self.frames == 0:
            self.container.close()
            Path(self.tmp).unlink(missing_ok=True)
            return
        with _output_errors(self.path):
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            os.replace(self.tmp, self.path)


def write_usd(
    path: Path, vertices: list[np.ndarray], faces: list[np.ndarray], sim, fps: float, color=(0.5, 0.5, 0.5), debris=None
) -> None:
    """One Mesh prim per fragment (points in rest pose about its centroid) animated by
    time-sampled translate/orient ops; Z-up, metres; hidden fragments get invisible."""
    from pxr import Tf

    try:
        _write_usd(path, vertices, faces, sim, fps, color, debris)
    except Tf.ErrorException as err:  # USD reports failed file writes as its own errors
        _atomic(path).with_suffix(".usdc").unlink(missing_ok=True)
        raise OutputError(f"cannot write USD {path}: {str(err).strip().splitlines()[-1]}") from None


def _write_usd(path: Path, vertices, faces, sim, fps, color, debris) -> None:
    from pxr import Gf, Usd, UsdGeom, Vt

    tmp = _atomic(path).with_suffix(".usdc")
    stage = Usd.Stage.CreateNew(str(tmp))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    stage.SetStartTimeCode(1)
    stage.SetEndTimeCode(sim.frames)
    stage.SetTimeCodesPerSecond(fps)
    stage.SetFramesPerSecond(fps)
    root = UsdGeom.Xform.Define(stage, "/building")
    stage.SetDefaultPrim(root.GetPrim())
    for i, (v, f) in enumerate(zip(vertices, faces)):
        centre = v.mean(axis=0)
        mesh = UsdGeom.Mesh.Define(stage, f"/building/frag_{i:05d}")
        mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy((v - centre).astype(np.float32)))
        mesh.CreateFaceVertexCountsAttr([3] * len(f))
        mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(f.reshape(-1).astype(np.int32)))
        mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        mesh.CreateDisplayColorAttr([Gf.Vec3f(*color)])
        translate = mesh.AddTranslateOp()
        orient = mesh.AddOrientOp()
        visibility = mesh.CreateVisibilityAttr()
        _animate(i, centre, sim, translate, orient, visibility, Gf, UsdGeom)
    if debris is not None:
        _write_debris(stage, debris, color)
    stage.GetRootLayer().Save()
    del stage
    with _output_errors(path):
        os.replace(tmp, path)


def _animate(i, centre, sim, translate, orient, visibility, Gf, UsdGeom) -> None:
    """Key only where motion changes: ends of static spans keep interpolation exact."""
    from setpiece.artifacts import quat_to_matrix

    q = sim.rotations[:, i].astype(float)
    t = sim.translations[:, i] + np.einsum("fij,j->fi", quat_to_matrix(q), centre)
    vis = sim.visible[:, i]
    keys = np.c_[np.round(q, 6), np.round(t, 5), vis]
    change = np.any(keys[1:] != keys[:-1], axis=1)
    needed = np.zeros(sim.frames, bool)
    needed[[0, -1]] = True
    needed[1:] |= change
    needed[:-1] |= change
    for frame in np.flatnonzero(needed):
        time = float(frame + 1)
        translate.Set(Gf.Vec3d(*map(float, t[frame])), time)
        orient.Set(Gf.Quatf(float(q[frame, 3]), *map(float, q[frame, :3])), time)
        visibility.Set(UsdGeom.Tokens.inherited if vis[frame] else UsdGeom.Tokens.invisible, time)


def _write_debris(stage, debris, color) -> None:
    """Debris chunks as one PointInstancer over a few prototype shapes, keyed every frame."""
    from pxr import Gf, UsdGeom, Vt

    from setpiece.physics.debris import CUBE_FACES, PROTOTYPES

    inst = UsdGeom.PointInstancer.Define(stage, "/building/debris")
    protos = stage.DefinePrim("/building/debris/prototypes", "Scope")
    rel = inst.CreatePrototypesRel()
    # prototypes are rebuilt from the same seeded shapes the renderer used
    shapes = [m.vertices / m.meta["scale"] for m in debris.meshes[:PROTOTYPES]]
    for k, verts in enumerate(shapes):
        mesh = UsdGeom.Mesh.Define(stage, f"{protos.GetPath()}/chunk_{k}")
        mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(verts.astype(np.float32)))
        mesh.CreateFaceVertexCountsAttr([3] * len(CUBE_FACES))
        mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(CUBE_FACES.reshape(-1).astype(np.int32)))
        mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        mesh.CreateDisplayColorAttr([Gf.Vec3f(*color)])
        rel.AddTarget(mesh.GetPath())
    n = len(debris.meshes)
    inst.CreateProtoIndicesAttr(Vt.IntArray.FromNumpy(np.arange(n, dtype=np.int32) % PROTOTYPES))
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
        q = motion.rotations[frame]
        orients.Set(Vt.QuathArray([Gf.Quath(float(w), float(x), float(y), float(z)) for x, y, z, w in q]), time)
        hidden.Set(Vt.Int64Array.FromNumpy(np.flatnonzero(~motion.visible[frame]).astype(np.int64)), time)
