"""The USD shot opened in Blender (the `bpy` 4.5 module from PyPI, in a venv of its own):
camera, meshes and the dust volume come in, and Blender's render of frame 60 through
the imported camera lines up with ours."""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from setpiece import deliver, pipeline
from setpiece.deliver import dust_vdb_file
from setpiece.world.environment import PAVEMENT_ID
from tests.conftest import small_spec

pytestmark = pytest.mark.slow

FRAME = 60
SIZE = (160, 96)
CACHE = Path(os.environ.get("SETPIECE_CACHE", Path.home() / ".cache" / "setpiece"))
BPY_VENV = CACHE / "bpy-4.5"


def bpy_python() -> Path:
    """The venv's python with bpy 4.5 installed (built on first use); skips when it cannot be."""
    python = BPY_VENV / "bin" / "python"
    if python.is_file() and _run([python, "-c", "import bpy"]).returncode == 0:
        return python
    if sys.version_info[:2] != (3, 11):
        pytest.skip("bpy 4.5 wheels exist for Python 3.11 only")
    BPY_VENV.parent.mkdir(parents=True, exist_ok=True)
    builder = venv.EnvBuilder(with_pip=True, clear=True)
    builder.create(BPY_VENV)
    install = _run([python, "-m", "pip", "install", "-q", "bpy==4.5.*"])
    if install.returncode != 0:
        pytest.skip(f"bpy 4.5 cannot be installed here: {install.stderr.strip().splitlines()[-1:]}")
    return python


def _run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


class VdbThroughBlender:
    """Writes the dust VDBs with the openvdb module bundled in bpy, where no VDB writer is
    registered: the densities are gathered, then converted in the bpy venv on close."""

    def __init__(self, job):
        self.job, self.frames = job, {}
        (job.work / "dust").mkdir()

    def add(self, frame, passes, comp):
        dust = self.job.inputs["dust"][frame]
        if dust.density.max() > 0:
            self.frames[dust_vdb_file(self.job.name, frame)] = dust

    def close(self, ok):
        if not (ok and self.frames):
            return {}
        first = next(iter(self.frames.values()))
        lo, hi = np.asarray(first.bounds_min), np.asarray(first.bounds_max)
        voxel = (hi - lo) / np.asarray(first.density.shape)
        data = self.job.work / "dust" / "densities.npz"
        np.savez(data, **{k: v.density.astype(np.float32) for k, v in self.frames.items()})
        script = VDB_SCRIPT.format(work=str(self.job.work), data=str(data), voxel=voxel.tolist(), lo=lo.tolist())
        done = _run([bpy_python(), "-c", script])
        assert done.returncode == 0, done.stderr
        data.unlink()
        return {"vdb": "dust"}


VDB_SCRIPT = """
import glob, os, sys
import bpy  # its bundled Python packages (openvdb among them) sit beside it
sys.path += glob.glob(os.path.join(bpy.utils.resource_path("LOCAL"), "python", "lib", "python3*", "site-packages"))
import numpy as np, openvdb
frames = np.load({data!r})
voxel, lo = {voxel}, {lo}
for file in frames.files:
    grid = openvdb.FloatGrid()
    grid.copyFromArray(frames[file])
    grid.name = "density"
    grid.gridClass = openvdb.GridClass.FOG_VOLUME
    matrix = [[voxel[0], 0, 0, 0], [0, voxel[1], 0, 0], [0, 0, voxel[2], 0],
              [lo[0] + voxel[0] / 2, lo[1] + voxel[1] / 2, lo[2] + voxel[2] / 2, 1]]
    grid.transform = openvdb.createLinearTransform(matrix)
    openvdb.write({work!r} + "/" + file, grids=[grid])
"""

BLENDER_SCRIPT = """
import json, sys
import bpy

root, out, frame = sys.argv[1], sys.argv[2], int(sys.argv[3])
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.world = bpy.data.worlds.new("World")  # the importer turns the DomeLight into this world
scene.world.use_nodes = True
bpy.ops.wm.usd_import(filepath=root)
background = scene.world.node_tree.nodes["Background"]
objects = list(scene.objects)
cameras = [o for o in objects if o.type == "CAMERA"]
report = {
    "cameras": [o.name for o in cameras],
    "meshes": sum(o.type == "MESH" for o in objects),
    "volumes": [o.name for o in objects if o.type == "VOLUME"],
    "lights": sorted(o.data.type for o in objects if o.type == "LIGHT"),
    "sky": [list(background.inputs["Color"].default_value)[:3], background.inputs["Strength"].default_value],
    "frames": [scene.frame_start, scene.frame_end],
    "fps": scene.render.fps / scene.render.fps_base,
}
volume = bpy.data.volumes[0] if bpy.data.volumes else None
if volume is not None:
    report["volume_sequence"] = [volume.is_sequence, volume.frame_duration]
    scene.frame_set(frame)
    volume.grids.load()
    report["volume_grids"] = [g.name for g in volume.grids]
scene.camera = cameras[0]
# the building's silhouette: the ground, the dust and the lights stay out of this render
for o in objects:
    if o.type in ("VOLUME", "LIGHT") or "ground" in o.name:
        o.hide_render = True
scene.render.engine = "CYCLES"
scene.cycles.device = "CPU"
scene.cycles.samples = 16
scene.cycles.use_denoising = False
scene.render.film_transparent = True
scene.render.resolution_x, scene.render.resolution_y = int(sys.argv[4]), int(sys.argv[5])
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "OPEN_EXR"
scene.render.image_settings.color_mode = "RGBA"
scene.render.filepath = out
scene.frame_set(frame)
bpy.ops.render.render(write_still=True)
print("REPORT" + json.dumps(report))
"""


@pytest.fixture(scope="module")
def take(tmp_path_factory):
    python = bpy_python()
    out = tmp_path_factory.mktemp("blender")
    spec = small_spec(
        shot={"frames": FRAME},
        render={"width": SIZE[0], "height": SIZE[1]},
        dust={"resolution": 16},
        debris={"count": 100},
        output={"png": False, "mp4": False},
    )
    with pytest.MonkeyPatch.context() as mp:
        if "vdb" not in deliver._WRITERS:
            mp.setitem(deliver._WRITERS, "vdb", VdbThroughBlender)
        result = pipeline.run_shot(spec, out)
    script = out / "blender_check.py"
    script.write_text(BLENDER_SCRIPT)
    render = out / "blender.exr"
    done = _run(
        [python, script, result.take_dir / "collapse.usda", render, FRAME, *SIZE],
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("REPORT"))
    return result, json.loads(line[len("REPORT") :]), render


def test_blender_imports_camera_meshes_lights_and_dust(take):
    result, report, _ = take
    assert len(report["cameras"]) == 1
    assert report["meshes"] >= result.fragments  # fragments, debris prototypes, ground
    assert report["lights"] == ["SUN"]
    light = small_spec().light
    assert report["sky"][0] == pytest.approx(light.sky_color) and report["sky"][1] == pytest.approx(light.sky_intensity)
    assert len(report["volumes"]) == 1
    assert report["volume_sequence"][0] and "density" in report["volume_grids"]
    assert report["frames"] == [1, FRAME] and report["fps"] == pytest.approx(24.0)


def test_blender_render_of_frame_60_lines_up_with_ours(take):
    result, _, render = take
    ours = oiio.ImageBuf(str(result.take_dir / "exr" / f"collapse.{FRAME:04d}.exr"))
    names = list(ours.spec().channelnames)
    pixels = ours.get_pixels(oiio.FLOAT)
    building = pixels[..., names.index("matte")] > 0.5
    # the USD carries the ground alone: where our frame shows pavement or a neighbour in
    # front, Blender sees the rubble behind it, so those pixels are left out
    scenery = pixels[..., names.index("id")] <= PAVEMENT_ID
    theirs = oiio.ImageBuf(str(render))
    alpha = theirs.get_pixels(oiio.FLOAT)[..., list(theirs.spec().channelnames).index("A")] > 0.5
    assert alpha.shape == building.shape
    building, alpha = building & ~scenery, alpha & ~scenery
    assert building.sum() > 0.05 * building.size, "too little of the building in view to compare"
    iou = (building & alpha).sum() / (building | alpha).sum()
    print(f"building silhouette IoU, Blender vs setpiece, frame {FRAME}: {iou:.3f}")
    assert iou >= 0.9


MATTE_SCRIPT = """
import sys
import bpy

exr, names, out, width, height = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.use_nodes = True
tree = scene.node_tree
for node in list(tree.nodes):  # no Render Layers: the compositor alone renders, no camera needed
    tree.nodes.remove(node)
matte = tree.nodes.new("CompositorNodeCryptomatteV2")
matte.source = "IMAGE"
matte.image = bpy.data.images.load(exr)
matte.layer_name = "CryptoObject"
matte.matte_id = names
composite = tree.nodes.new("CompositorNodeComposite")
tree.links.new(matte.outputs["Matte"], composite.inputs["Image"])
scene.render.resolution_x, scene.render.resolution_y = width, height
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "OPEN_EXR"
scene.render.filepath = out
bpy.ops.render.render(write_still=True)
"""


def test_blenders_cryptomatte_node_pulls_our_member_matte(take, tmp_path):
    from setpiece.deliver import cryptomatte as crypto
    from setpiece.deliver.exr import read_cryptomatte

    result, _, _ = take
    exr = result.take_dir / "exr" / f"collapse.{FRAME:04d}.exr"
    channels, manifest = read_cryptomatte(exr)
    members = [n for n in manifest if n.startswith("floor")]
    member = max(members, key=lambda n: crypto.decode(channels, n).sum())
    script, out = tmp_path / "matte.py", tmp_path / "matte.exr"
    script.write_text(MATTE_SCRIPT)
    done = _run([bpy_python(), script, exr, f"{member}, ground", out, *SIZE], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = oiio.ImageBuf(str(out)).get_pixels(oiio.FLOAT)[..., 0]
    ours = crypto.decode(channels, member) + crypto.decode(channels, "ground")
    assert ours.sum() > 50
    assert np.abs(theirs - ours).max() < 1e-5
