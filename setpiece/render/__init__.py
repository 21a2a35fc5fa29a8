"""Render backends behind one Protocol, picked by name (render.backend).

`preview` rasterises with moderngl (EGL); `final` path-traces with Mitsuba 3.
Both share the scene's camera and sun, and return `Passes`. Other backends
plug in with `register_backend`, the way Mitsuba registers plugins.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from setpiece.artifacts import Fragments, Passes
from setpiece.errors import RenderError
from setpiece.geometry import Mesh
from setpiece.world.building import ShotScene

INTERIOR_SKY = 0.05  # share of skylight reaching the inside of the intact building


def fragment_meshes(scene: ShotScene, frags: Fragments, rng: np.random.Generator) -> list[Mesh]:
    """Fragments as meshes, tinted per structural element so the facade is not uniform."""
    tint = rng.uniform(0.9, 1.08, size=len(scene.building.elements))
    base = np.asarray(scene.building.color)
    return [
        Mesh(v, f, tuple(base * tint[e]), f"frag_{i:05d}")
        for i, (v, f, e) in enumerate(zip(frags.vertices, frags.faces, frags.element))
    ]


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
    cls(spec, scene, meshes, exposure, dust_box) and must follow `Backend`."""
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


def make_backend(spec, scene: ShotScene, meshes: list[Mesh], extra: list[Mesh] = (), dust_box=None) -> Backend:
    """The spec's render backend, ready to draw frames of this fractured building
    (parts: the fragment meshes first, then the extra meshes such as debris chunks)."""
    exposure = interior_exposure(scene, meshes) + [np.ones(len(m.faces)) for m in extra]
    return backend_class(spec.render.backend)(spec, scene, meshes + list(extra), exposure, dust_box)
