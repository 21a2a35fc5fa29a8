"""Final backend: Mitsuba 3 path tracing with OIDN denoising.

All moving parts form one mesh whose vertex positions are rewritten each
frame (the JIT-compiled kernels are reused, only the BVH is rebuilt); the
street and neighbours are a second, static mesh. The sun is a directional
emitter and the sky the shared physical sky map as an `envmap`; emitters are
hidden from the camera so the comp stage places the background.

Materials are shared with the preview: Mitsuba bounces light with each face's
base albedo (per-vertex colour), and the rasteriser, drawing the same frame,
supplies the texture detail (textured / base albedo, multiplied in after
denoising), the window reflections and the glass layer, plus the depth,
normal and part-id passes, which it point-samples exactly. The dust cloud's
shadow (when the dust is the ray-marched layer, not a Mitsuba medium) is the
rasteriser's too: the share of each pixel's light left once the sun is
multiplied by the dust's transmittance, applied to the path-traced light.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from setpiece.errors import RenderError
from setpiece.fx.volume import dust_albedo, dust_layer
from setpiece.geometry import Mesh
from setpiece.graph import stage_rng
from setpiece.render import frame_scene
from setpiece.render.materials import GLASS, face_albedo
from setpiece.render.raster import PreviewRenderer, cloud_shadow
from setpiece.render.sky import aerial_perspective

LLVM_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1",
    "/usr/lib/aarch64-linux-gnu/libLLVM.so.19.1",
    "/usr/lib/llvm-19/lib/libLLVM.so.1",
)
MAX_DEPTH = 3  # camera ray, a bounce and the sky: the street and neighbours make longer paths dear
DUST_KEY = "dust.interior_medium.sigma_t.data"


def load_mitsuba(device: str = "auto"):
    """Import Mitsuba and pick cuda_ad_rgb on a GPU, else llvm_ad_rgb (needs LLVM 19)."""
    if "DRJIT_LIBLLVM_PATH" not in os.environ:
        found = next((p for p in LLVM_CANDIDATES if Path(p).exists()), None)
        if found:
            os.environ["DRJIT_LIBLLVM_PATH"] = found
    try:
        import mitsuba as mi
    except ImportError as err:
        raise RenderError(f"final backend needs Mitsuba 3 (pip install mitsuba): {err}") from None
    variants = mi.variants()
    wanted = (
        ["cuda_ad_rgb", "llvm_ad_rgb"] if device == "auto" else [f"{'cuda' if device == 'cuda' else 'llvm'}_ad_rgb"]
    )
    failures = []
    for variant in wanted:
        if variant not in variants:
            failures.append(f"{variant} is not built into this Mitsuba")
            continue
        try:
            mi.set_variant(variant)
            return mi
        except Exception as err:  # no driver for this variant here; say why and try the next
            failures.append(f"{variant}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    raise RenderError(
        f"no usable Mitsuba variant ({'; '.join(failures)}): the CPU variant needs LLVM 19 "
        "(apt-get install libllvm19, or set DRJIT_LIBLLVM_PATH); cuda needs an NVIDIA GPU"
    )


class FinalBackend:
    def __init__(self, spec, scene, meshes: list[Mesh], exposure=None, dust_box=None, look=None):
        """dust_box: (bounds_min, bounds_max, grid shape) of the dust, or None for no dust."""
        from setpiece.render import make_look

        self.mi = load_mitsuba(spec.render.device)
        self.spec, self.scene, self.dust_box = spec, scene, dust_box
        self.look = look or make_look(spec, scene, meshes)
        self.rest, self.faces, self.owner, colors = _merge(meshes)
        self.aovs = PreviewRenderer(meshes, exposure, static=self.look.static, sky=self.look.sky)
        self.radius = 1.5 * max(scene.building.height, *scene.building.footprint)
        self.mi_scene = self.mi.load_dict(self._scene_dict(colors))
        self.params = self.mi.traverse(self.mi_scene)
        self.key = "fragments.vertex_positions"
        self._camera = scene.camera

    def _mesh(self, name: str, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray):
        mi = self.mi
        mesh = mi.Mesh(name, len(vertices), len(faces), has_vertex_normals=False)
        params = mi.traverse(mesh)
        params["vertex_positions"] = mi.Float(vertices.ravel().astype(np.float32))
        params["faces"] = mi.UInt32(faces.ravel().astype(np.uint32))
        params.update()
        mesh.add_attribute("vertex_color", 3, mi.Float(colors.ravel().astype(np.float32)))
        mesh.set_bsdf(
            mi.load_dict({"type": "diffuse", "reflectance": {"type": "mesh_attribute", "name": "vertex_color"}})
        )
        return mesh

    def _sensor_to_world(self, cam):
        return self.mi.ScalarTransform4f().look_at(origin=list(cam.position), target=list(cam.target), up=[0, 0, 1])

    def _scene_dict(self, colors: np.ndarray) -> dict:
        mi, spec, cam = self.mi, self.spec, self.scene.camera
        light = spec.light
        static_v, static_f, _, static_c = _merge(self.look.static)
        scene = {
            "type": "scene",
            "integrator": {
                "type": "volpath" if self.dust_box else "path",
                "max_depth": MAX_DEPTH,
                "hide_emitters": True,
            },
            "sensor": {
                "type": "perspective",
                "fov": cam.fov_x,
                "fov_axis": "x",
                "to_world": self._sensor_to_world(cam),
                "near_clip": cam.near,
                "far_clip": cam.far,
                "sampler": {"type": "independent", "sample_count": spec.render.spp},
                "film": {
                    "type": "hdrfilm",
                    "width": cam.width,
                    "height": cam.height,
                    "pixel_format": "rgba",
                    "rfilter": {"type": "box"},
                },
            },
            "fragments": self._mesh("fragments", self.rest, self.faces, colors),
            "sun": {
                "type": "directional",
                "direction": list(-self.scene.sun_dir),
                "irradiance": {"type": "rgb", "value": list(np.asarray(light.sun_color) * light.sun_intensity)},
            },
            "sky": {
                "type": "envmap",
                "bitmap": mi.Bitmap(_mitsuba_envmap(self.look.sky)),
                "to_world": mi.ScalarTransform4f([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]]),
            },
        }
        if len(static_f):
            scene["environment"] = self._mesh("environment", static_v, static_f, static_c)
        if self.dust_box:
            scene["dust"] = self._dust_dict(*self.dust_box)
        return scene

    def _dust_dict(self, lo, hi, shape) -> dict:
        """A null-surfaced box holding a heterogeneous medium whose grid is refilled per frame."""
        from setpiece.fx.volume import DEFAULT_G, DEFAULT_SIGMA, vol_to_world

        mi = self.mi
        box = mi.ScalarTransform4f(vol_to_world(lo, hi).tolist())
        grid = mi.VolumeGrid(np.zeros(tuple(reversed(shape)) + (1,), np.float32))
        return {
            "type": "cube",
            "to_world": box @ mi.ScalarTransform4f().translate(0.5).scale(0.5),
            "bsdf": {"type": "null"},
            "interior": {
                "type": "heterogeneous",
                "scale": DEFAULT_SIGMA,
                "albedo": {"type": "rgb", "value": list(dust_albedo(self.spec.building.material))},
                "phase": {"type": "hg", "g": DEFAULT_G},  # the ray marcher's phase function
                "sigma_t": {"type": "gridvolume", "grid": grid, "to_world": box},
            },
        }

    def render(self, frame: int, matrices: np.ndarray, previous: np.ndarray | None = None, dust=None):
        """(passes, dust layer): the dust is the preview's own ray-marched layer (same
        light, colour and detail, so both backends agree), or with dust.path_traced
        path-traced into the beauty as a heterogeneous medium of the same extinction,
        albedo and phase function (lit and shadowed by the scene, but without the
        render-time detail; about 100 s a 640x360 frame on 2 CPU cores)."""
        look = self.look
        cam = look.camera(self.scene, frame)
        m = matrices[self.owner]
        world = np.einsum("nij,nj->ni", m[:, :3, :3], self.rest) + m[:, :3, 3]
        self.params[self.key] = self.mi.Float(world.ravel().astype(np.float32))
        if cam is not self._camera:
            self.params["sensor.to_world"] = self._sensor_to_world(cam)
            self._camera = cam
        if dust is not None and self.dust_box:
            density = np.ascontiguousarray(np.transpose(np.asarray(dust.density, np.float32), (2, 1, 0)))
            self.params[DUST_KEY] = self.mi.TensorXf(density[..., None])
        self.params.update()
        # fresh noise per frame, the same whichever order (or machine) renders the frames
        seed = int(stage_rng(self.spec.shot.seed, "render", frame).integers(2**31))
        image = np.asarray(self.mi.render(self.mi_scene, seed=seed), np.float32)
        rgb, alpha = image[..., :3], np.clip(image[..., 3], 0.0, 1.0)
        # the ray-marched dust is not in Mitsuba's scene: its shadow comes from the rasteriser
        shadow = cloud_shadow(dust, self.scene.sun_dir) if dust is not None and not self.dust_box else None
        raster = self.aovs.render_frame(
            cam,
            look.expand(matrices),
            self.scene.sun_dir,
            np.asarray(self.spec.light.sun_color) * self.spec.light.sun_intensity,
            (0, 0, 0),
            self.radius,
            look.expand(previous),
            look.camera(self.scene, frame - 1),
            layers=True,
            dust_shadow=shadow,
            centre=self.scene.camera.target,
        )
        aov = raster.passes
        if self.spec.render.denoise:
            base = raster.albedo / np.maximum(raster.detail, 1e-3)  # what Mitsuba shaded with
            rgb = _denoise(rgb, base, aov.normal)
        if shadow is not None:
            # the share of each pixel's light the cloud leaves, as the rasteriser lights it (sun
            # direct times the dust's transmittance over sky light): the path-traced sun and sky
            # cannot be told apart, so the cloud darkens them in that proportion
            rgb = rgb * raster.dust_shade[..., None]
        # the shared textures and reflections on the path-traced light, then the glass
        rgb = rgb * raster.detail + raster.spec * alpha[..., None]
        rgb = raster.glass[..., :3] + (1.0 - raster.glass[..., 3:4]) * rgb
        if look.haze:
            rgb = aerial_perspective(rgb, alpha, aov.depth, cam, look.sky)
        aov.beauty = rgb
        scene = frame_scene(self.scene, cam)
        if dust is None:
            aov.alpha = alpha
            return aov, None
        if self.dust_box:  # dust is in the path-traced beauty; it still has to hide the sky
            coverage = dust_layer(dust, aov, self.scene, self.spec, detail=0.0)[..., 3]  # the medium has no detail
            aov.alpha = alpha + (1.0 - alpha) * np.clip(coverage, 0, 1)
            return aov, None
        aov.alpha = alpha
        return aov, dust_layer(dust, aov, scene, self.spec)

    def close(self) -> None:
        self.aovs.release()


def _denoise(rgb: np.ndarray, albedo: np.ndarray | None = None, normal: np.ndarray | None = None) -> np.ndarray:
    """OIDN on the noisy beauty, guided by the rasteriser's noise-free albedo and normals
    (pixel-aligned with the path tracer's camera), so a few samples per pixel suffice."""
    import pyoidn

    if albedo is None or normal is None:
        return np.asarray(pyoidn.denoise(np.ascontiguousarray(rgb), hdr=True), np.float32)
    aux = [np.ascontiguousarray(np.clip(a, lo, 1.0), np.float32) for a, lo in ((albedo, 0.0), (normal, -1.0))]
    out = pyoidn.denoise(np.ascontiguousarray(rgb), aux[0], aux[1], hdr=True, clean_aux=True, quality="fast")
    return np.asarray(out, np.float32)


def _merge(meshes: list[Mesh]):
    """One de-indexed triangle soup for all parts (glass left out: the rasteriser lays it
    over), with each vertex's owning part and base albedo."""
    verts, owners, colors = [], [], []
    for k, m in enumerate(meshes):
        keep = np.asarray(m.meta.get("material", np.zeros(len(m.faces)))) != GLASS
        tri = m.vertices[m.faces[keep]].reshape(-1, 3)
        verts.append(tri)
        owners.append(np.full(len(tri), k))
        colors.append(np.repeat(face_albedo(m)[keep], 3, axis=0))
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros(0, int), np.zeros((0, 3))
    rest = np.vstack(verts)
    faces = np.arange(len(rest)).reshape(-1, 3)
    return rest, faces, np.concatenate(owners), np.vstack(colors)


def _mitsuba_envmap(sky) -> np.ndarray:
    """The shared sky map resampled to Mitsuba's envmap layout (Y-up lat-long, turned to Z-up
    by the emitter's to_world): pixel (u, v) looks along local (sin v sin u, cos v, -sin v cos u)."""
    h, w = sky.radiance.shape[:2]
    u = (np.arange(w) + 0.5) / w * 2 * np.pi
    v = (np.arange(h) + 0.5) / h * np.pi
    sv, cv = np.sin(v)[:, None], np.cos(v)[:, None]
    local = np.stack([sv * np.sin(u)[None, :], np.broadcast_to(cv, (h, w)), -sv * np.cos(u)[None, :]], -1)
    world = np.stack([local[..., 0], -local[..., 2], local[..., 1]], -1)  # to_world: y -> z, z -> -y
    return np.ascontiguousarray(sky.lookup(world), np.float32)
