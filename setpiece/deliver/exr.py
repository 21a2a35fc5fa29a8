"""EXR frames as a compositor reads them: passes, Cryptomatte, camera and colour space.

Each frame holds the CG layer as premultiplied RGBA, the composite as comp.RGB
and the AOVs (Z, N, motion, shadow, matte, id), plus Cryptomatte channels with
one ID per structural member and one each for debris, dust and the ground. The
header carries the OpenEXR standard attributes `worldToCamera` and `worldToNDC`
(what Nuke shows as exr/worldToCamera and exr/worldToNDC and uses to rebuild the
camera) and the `chromaticities` of the scene-linear working space.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from setpiece.artifacts import Passes
from setpiece.deliver import DeliverJob, _Sequence
from setpiece.deliver import cryptomatte as crypto
from setpiece.deliver.names import DEBRIS, DUST, GROUND, NEIGHBOURS, PAVEMENT, member_names, part_names
from setpiece.deliver.writers import atomic
from setpiece.errors import OutputError

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

# Rec.709 / sRGB primaries and D65 white (x, y): the scene-linear working space
REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


class ExrSequence(_Sequence):
    ext = "exr"

    def __init__(self, job: DeliverJob):
        super().__init__(job)
        building, frags, debris = job.inputs["scene"], job.inputs["fracture"], job.inputs.get("debris")
        names = part_names(building, frags.element, len(debris.meshes) if debris else 0)
        self.ids = IdTable(names)
        header = crypto.header(member_names(building) + [DEBRIS, DUST, GROUND, PAVEMENT, NEIGHBOURS])
        if job.camera is not None:
            header.update(camera_header(job.camera))
        self.header = header

    def add(self, frame: int, passes, comp) -> None:
        cryptomatte = self.ids.channels(passes, dust_alpha(comp))
        self.submit(write_exr, self.path(frame), passes, comp.linear, cryptomatte, self.header)


def dust_alpha(comp) -> np.ndarray | None:
    """The dust layer's coverage, where the comp passes its dust layer on (premultiplied RGBA)."""
    layer = getattr(comp, "dust", None)
    return None if layer is None else np.asarray(layer)[..., 3]


class IdTable:
    """Cryptomatte IDs of the render's parts, and the per-pixel ranks built from the passes."""

    def __init__(self, part_names: list[str]):
        by_name = {name: crypto.id_float(name) for name in dict.fromkeys(part_names)}
        self.part_ids = np.array([by_name[n] for n in part_names], np.float32)
        self.ground, self.dust = crypto.id_float(GROUND), crypto.id_float(DUST)
        self.pavement, self.neighbours = crypto.id_float(PAVEMENT), crypto.id_float(NEIGHBOURS)

    def channels(self, passes: Passes, dust: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 2 * RANKS) Cryptomatte channels of one frame.

        The id pass is point-sampled, but the matte (building and debris) and alpha
        (everything but sky) are filtered coverage: a pixel's part gets the matte,
        the ground what alpha adds to it, and dust, drawn over both, its own alpha.
        An edge pixel whose sample missed the building takes its neighbour's part."""
        part = passes.part
        has_part = part >= 0
        ids = np.where(has_part, self.part_ids[np.clip(part, 0, len(self.part_ids) - 1)], 0.0).astype(np.float32)
        ids, has_part = _borrow_from_neighbours(ids, has_part, passes.matte > 0)
        member_cov = np.where(has_part, passes.matte, 0.0)
        ground_cov = np.clip(passes.alpha - passes.matte, 0.0, 1.0)
        # the environment's own ids (render/__init__: -3 pavements and kerbs, -4.. neighbours)
        env = np.where(part <= -4, self.neighbours, np.where(part == -3, self.pavement, self.ground))
        candidates = [ids, env.astype(np.float32)]
        coverage = [member_cov, ground_cov]
        if dust is not None:
            d = np.clip(dust, 0.0, 1.0)
            coverage = [c * (1.0 - d) for c in coverage] + [d]
            candidates.append(np.full_like(ids, self.dust))
        return crypto.encode(np.stack(candidates), np.stack(coverage).astype(np.float32))


def _borrow_from_neighbours(ids: np.ndarray, known: np.ndarray, wanted: np.ndarray):
    """Fill pixels that have coverage but no sampled part from a 3x3 neighbour."""
    missing = wanted & ~known
    if not missing.any():
        return ids, known
    ids, known = ids.copy(), known.copy()
    padded_ids = np.pad(ids, 1, mode="edge")
    padded_known = np.pad(known, 1, mode="constant")
    h, w = ids.shape
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        take = missing & padded_known[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        ids[take] = padded_ids[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w][take]
        known |= take
        missing &= ~take
    return ids, known


def camera_header(camera) -> dict[str, np.ndarray]:
    """worldToCamera and worldToNDC as OpenEXR defines them (Imath row vectors: p' = p M).

    Camera space is RenderMan's: left-handed, +z looking forward, x right, y up.
    NDC maps the display window to [0, 1]^2 with y pointing down."""
    view = camera.view_matrix()
    to_camera = np.diag([1.0, 1.0, -1.0, 1.0]) @ view
    to_ndc_from_clip = np.array(
        [[0.5, 0.0, 0.0, 0.5], [0.0, -0.5, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    )
    to_ndc = to_ndc_from_clip @ camera.projection_matrix() @ view
    return {"worldToCamera": to_camera.T, "worldToNDC": to_ndc.T}


def write_exr(
    path: Path, passes: Passes, comp: np.ndarray, cryptomatte: np.ndarray | None = None, header: dict | None = None
) -> None:
    """Multi-channel EXR, scene-linear: the CG layer as premultiplied RGBA, the
    composite as comp.RGB, AOVs: Z depth (m), N world normals, motion (pixels
    since the last frame), ground shadow, object matte, fragment id; then the
    Cryptomatte ranks. Every channel is 32-bit float: Cryptomatte IDs must be (they
    are float bit patterns), and OpenImageIO converts mixed half/float channels
    pixel by pixel, which took longer than compressing the whole frame as float."""
    import OpenImageIO as oiio

    h, w = passes.alpha.shape
    depth = np.where(np.isfinite(passes.depth), passes.depth, 1e10)
    layers = [
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
    names = list(EXR_CHANNELS)
    if cryptomatte is not None:
        layers.append(cryptomatte)
        names += crypto.channel_names(ranks=cryptomatte.shape[-1] // 2)
    channels = np.dstack(layers)
    spec = oiio.ImageSpec(w, h, len(names), oiio.FLOAT)
    spec.channelnames = names
    spec.attribute("compression", "zip")
    spec.attribute("oiio:ColorSpace", "lin_rec709_scene")
    spec.attribute("chromaticities", oiio.TypeDesc("float[8]"), REC709_CHROMATICITIES)
    for key, value in (header or {}).items():
        if isinstance(value, str):
            spec.attribute(key, value)
        else:
            spec.attribute(key, oiio.TypeMatrix44, tuple(float(v) for v in np.ravel(value)))
    tmp = atomic(path)
    out = oiio.ImageOutput.create(str(path))
    if out is None or not out.open(str(tmp), spec):
        raise OutputError(f"cannot write EXR {path}: {oiio.geterror()}")
    ok = out.write_image(np.ascontiguousarray(channels, np.float32))
    out.close()
    if not ok:
        raise OutputError(f"cannot write EXR {path}: {oiio.geterror()}")
    os.replace(tmp, path)


def read_cryptomatte(path: str | Path) -> tuple[np.ndarray, dict[str, str]]:
    """(the Cryptomatte channels (H, W, 2 * ranks), the manifest) of an EXR frame."""
    import OpenImageIO as oiio

    image = oiio.ImageBuf(str(path))
    if image.has_error:
        raise OutputError(f"cannot read EXR {path}: {image.geterror()}")
    spec = image.spec()
    names = list(spec.channelnames)
    ranks = sum(n.startswith(crypto.LAYER) and n[len(crypto.LAYER) :][:2].isdigit() for n in names) // 2
    picked = [names.index(n) for n in crypto.channel_names(ranks=ranks)]
    if not picked:
        raise OutputError(f"EXR {path} has no {crypto.LAYER} channels; write it with output.exr on")
    pixels = image.get_pixels(oiio.FLOAT)
    attributes = {a.name: a.value for a in spec.extra_attribs if isinstance(a.value, str)}
    return pixels[..., picked], crypto.read_manifest(attributes)
