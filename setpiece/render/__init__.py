"""Render backends behind one Protocol, picked by name (render.backend).

`preview` rasterises with moderngl (EGL); `final` path-traces with Mitsuba 3.
Both share the scene's camera, sun and sky, the materials and the place around
the building (`Look`), and return `Passes`. Other backends plug in with
`register_backend`, the way Mitsuba registers plugins.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from setpiece.artifacts import Fragments, Passes
from setpiece.camera import Camera
from setpiece.errors import RenderError
from setpiece.geometry import Mesh
from setpiece.world.building import ShotScene

INTERIOR_SKY = 0.05  # share of skylight reaching the inside of the intact building


def fragment_meshes(scene: ShotScene, frags: Fragments, rng: np.random.Generator) -> list[Mesh]:
    """Fragments as meshes with per-face materials (member kind and surface role, fresh
    broken faces marked), tinted per structural element so the facade is not uniform."""
    from setpiece.render.materials import assign_materials

    return assign_materials(scene.building, frags, rng)


def interior_exposure(scene: ShotScene, meshes: list[Mesh]) -> list[np.ndarray]:
    """Per-face skylight factor: faces inside the intact shell (the inner side of
    the walls included) get little sky, so windows read dark as in the final render."""
    hx, hy = (np.asarray(scene.building.footprint) / 2) - 0.01
    roof = scene.building.height - 1e-3
    out = []
    for m in meshes:
        c = m.vertices[m.faces].mean(axis=1)
        inside = (np.abs(c[:, 0]) < hx) & (np.abs(c[:, 1]) < hy) & (c[:, 2] < roof)
        out.append(np.where(inside, INTERIOR_SKY, 1.0))
    return out


@dataclass
class Look:
    """What both backends share beyond the moving parts: the place, the sky, attached glass
    and the camera of each frame (shake)."""

    static: list[Mesh]  # environment meshes, world space, meta part_id < -1
    sky: Any  # setpiece.render.sky.Sky
    attached: list[Mesh] = field(default_factory=list)  # parts riding on a moving part (window glass)
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    camera_at: Callable[[int], Camera] | None = None  # frame -> camera; None: the scene camera
    haze: bool = True
    _centres: np.ndarray | None = field(default=None, repr=False)  # rest centres of the attached parts

    def expand(self, matrices: np.ndarray | None) -> np.ndarray | None:
        """The moving parts' transforms followed by the attached parts'."""
        if matrices is None or not self.attached:
            return matrices
        from setpiece.render.materials import follow

        if self._centres is None:
            self._centres = np.array([m.vertices.mean(axis=0) for m in self.attached])
        return np.concatenate([matrices, follow(matrices, self.owners, self._centres)])

    def camera(self, scene: ShotScene, frame: int) -> Camera:
        return scene.camera if self.camera_at is None else self.camera_at(max(frame, 0))


def make_look(spec, scene: ShotScene, meshes: list[Mesh], keep_clear=None, events=None) -> Look:
    """The spec's environment, sky, window glass and camera shake for this building."""
    from setpiece.render.camera_fx import shake_cameras
    from setpiece.render.materials import window_panes
    from setpiece.render.sky import make_sky
    from setpiece.world.environment import make_environment

    env_spec = spec.environment
    kind = "none" if spec.comp.plate or spec.plate.photo else env_spec.kind  # a photo is the place
    rng = np.random.default_rng(spec.shot.seed + 101)
    env = make_environment(
        kind, scene.building.footprint, scene.camera, rng, env_spec.neighbours, keep_clear, scene.building.height
    )
    panes, owners = window_panes(scene.building, meshes)
    cams = shake_cameras(spec, scene.camera, events or []) if spec.camera.shake > 0 and events else None
    sky = make_sky(spec.light, spec.light.turbidity)
    return Look(env.meshes, sky, panes, owners, cams, haze=kind != "none")


class Backend(Protocol):
    """What every render backend does: draw one frame of the shot's parts."""

    def render(self, frame: int, matrices: np.ndarray, previous: np.ndarray | None, dust) -> tuple[Passes, Any]:
        """(passes, dust layer as premultiplied RGBA or None) for one frame; matrices are the
        parts' world-from-rest transforms, previous the last frame's (for motion vectors)."""

    def close(self) -> None: ...


# name -> the backend class, or "module:Class" loaded on first use so `import setpiece` stays cheap
_BACKENDS: dict[str, type | str] = {
    "preview": "setpiece.render.preview:PreviewBackend",
    "final": "setpiece.render.final:FinalBackend",
}


def register_backend(name: str, cls: type | str) -> None:
    """Make a backend available as render.backend = NAME. The class is built as
    cls(spec, scene, meshes, exposure, dust_box, look=look) and must follow `Backend`."""
    _BACKENDS[name] = cls


def backend_class(name: str) -> type:
    try:
        entry = _BACKENDS[name]
    except KeyError:
        raise RenderError(f"render.backend: no backend named {name!r}; choose one of {sorted(_BACKENDS)}") from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = _BACKENDS[name] = getattr(importlib.import_module(module), attr)
    return entry


def make_backend(
    spec, scene: ShotScene, meshes: list[Mesh], extra: list[Mesh] = (), dust_box=None, look: Look | None = None
) -> Backend:
    """The spec's render backend, ready to draw frames of this fractured building
    (parts: the fragment meshes first, then the extra meshes such as debris chunks,
    then the look's attached glass)."""
    from setpiece.render.materials import tag

    look = look or make_look(spec, scene, meshes)
    extra = [tag(m, _facade_material(scene), broken=True) for m in extra]
    parts = meshes + list(extra) + list(look.attached)
    exposure = interior_exposure(scene, meshes) + [np.ones(len(m.faces)) for m in list(extra) + look.attached]
    return backend_class(spec.render.backend)(spec, scene, parts, exposure, dust_box, look=look)


def _facade_material(scene: ShotScene) -> str:
    from setpiece.render.materials import facade_material

    return facade_material(scene.building)


def frame_scene(scene: ShotScene, camera: Camera) -> ShotScene:
    """The scene as seen by this frame's camera."""
    return scene if camera is scene.camera else dataclasses.replace(scene, camera=camera)
