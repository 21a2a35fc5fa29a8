"""Final backend: Mitsuba 3 path tracing with OIDN denoising.

All fragments form one mesh whose vertex positions are rewritten each frame
(the JIT-compiled kernels are reused, only the BVH is rebuilt). The sun is a
directional emitter and the sky a constant one; emitters are hidden from the
camera so the comp stage places the background. Depth, normal and fragment
id passes come from the preview rasteriser, which point-samples them exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from setpiece.errors import RenderError
from setpiece.fx.volume import dust_albedo, dust_layer
from setpiece.geometry import Mesh
from setpiece.graph import stage_rng
from setpiece.render.raster import PreviewRenderer

LLVM_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1",
    "/usr/lib/aarch64-linux-gnu/libLLVM.so.19.1",
    "/usr/lib/llvm-19/lib/libLLVM.so.1",
)
MAX_DEPTH = 4
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
    def __init__(self, spec, scene, meshes: list[Mesh], exposure=None, dust_box=None):
        """dust_box: (bounds_min, bounds_max, grid shape) of the dust, or None for no dust."""
        self.mi = load_mitsuba(spec.render.device)
        self.spec, self.scene, self.dust_box = spec, scene, dust_box
        self.rest, self.faces, self.owner, colors = _merge(meshes)
        self.aovs = PreviewRenderer(meshes)
        self.radius = 1.5 * max(scene.building.height, *scene.building.footprint)
        self.mi_scene = self.mi.load_dict(self._scene_dict(colors))
        self.params = self.mi.traverse(self.mi_scene)
        self.key = "fragments.vertex_positions"

    def _scene_dict(self, colors: np.ndarray) -> dict:
        mi, spec, cam = self.mi, self.spec, self.scene.camera
        light = spec.light
        mesh = mi.Mesh("fragments", len(self.rest), len(self.faces), has_vertex_normals=False)
        params = mi.traverse(mesh)
        params["vertex_positions"] = mi.Float(self.rest.ravel().astype(np.float32))
        params["faces"] = mi.UInt32(self.faces.ravel().astype(np.uint32))
        params.update()
        mesh.add_attribute("vertex_color", 3, mi.Float(colors.ravel().astype(np.float32)))
        mesh.set_bsdf(
            mi.load_dict({"type": "diffuse", "reflectance": {"type": "mesh_attribute", "name": "vertex_color"}})
        )
        to_world = mi.ScalarTransform4f().look_at(origin=list(cam.position), target=list(cam.target), up=[0, 0, 1])
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
                "to_world": to_world,
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
            "fragments": mesh,
            "ground": {
                "type": "rectangle",
                "to_world": mi.ScalarTransform4f().scale([400.0, 400.0, 1.0]),
                "bsdf": {"type": "diffuse", "reflectance": {"type": "rgb", "value": [0.2, 0.19, 0.18]}},
            },
            "sun": {
                "type": "directional",
                "direction": list(-self.scene.sun_dir),
                "irradiance": {"type": "rgb", "value": list(np.asarray(light.sun_color) * light.sun_intensity)},
            },
            "sky": {
                "type": "constant",
                "radiance": {"type": "rgb", "value": list(np.asarray(light.sky_color) * light.sky_intensity)},
            },
        }
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
        m = matrices[self.owner]
        world = np.einsum("nij,nj->ni", m[:, :3, :3], self.rest) + m[:, :3, 3]
        self.params[self.key] = self.mi.Float(world.ravel().astype(np.float32))
        if dust is not None and self.dust_box:
            density = np.ascontiguousarray(np.transpose(np.asarray(dust.density, np.float32), (2, 1, 0)))
            self.params[DUST_KEY] = self.mi.TensorXf(density[..., None])
        self.params.update()
        # fresh noise per frame, the same whichever order (or machine) renders the frames
        seed = int(stage_rng(self.spec.shot.seed, "render", frame).integers(2**31))
        image = np.asarray(self.mi.render(self.mi_scene, seed=seed), np.float32)
        rgb, alpha = image[..., :3], np.clip(image[..., 3], 0.0, 1.0)
        aov = self.aovs.render(
            self.scene.camera, matrices, self.scene.sun_dir, (1, 1, 1), (0, 0, 0), self.radius, previous
        )
        if self.spec.render.denoise:
            rgb = _denoise(rgb)
        aov.beauty = rgb
        if dust is None:
            aov.alpha = alpha
            return aov, None
        if self.dust_box:  # dust is in the path-traced beauty; it still has to hide the sky
            coverage = dust_layer(dust, aov, self.scene, self.spec, detail=0.0)[..., 3]  # the medium has no detail
            aov.alpha = alpha + (1.0 - alpha) * np.clip(coverage, 0, 1)
            return aov, None
        aov.alpha = alpha
        return aov, dust_layer(dust, aov, self.scene, self.spec)

    def close(self) -> None:
        self.aovs.release()


def _denoise(rgb: np.ndarray) -> np.ndarray:
    """OIDN on the noisy beauty alone (its normal input also needs albedo)."""
    import pyoidn

    return np.asarray(pyoidn.denoise(np.ascontiguousarray(rgb), hdr=True), np.float32)


def _merge(meshes: list[Mesh]):
    """One vertex/face array for all parts, with each vertex's owning part and colour."""
    counts = [len(m.vertices) for m in meshes]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rest = np.vstack([m.vertices for m in meshes])
    faces = np.vstack([m.faces + o for m, o in zip(meshes, offsets)])
    owner = np.repeat(np.arange(len(meshes)), counts)
    colors = np.repeat(np.array([m.color for m in meshes], float), counts, axis=0)
    return rest, faces, owner, colors
