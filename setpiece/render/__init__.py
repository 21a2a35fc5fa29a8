"""Render stage: a backend turns per-fragment transforms into image passes.

`preview` rasterises with moderngl (EGL); `final` path-traces with Mitsuba 3.
Both share the scene's camera and sun, and return `Passes`.
"""

from __future__ import annotations

import numpy as np

from setpiece.geometry import Mesh
from setpiece.physics.fracture import Fragments
from setpiece.render.passes import Passes
from setpiece.spec import ShotSpec
from setpiece.world.building import Scene

__all__ = ["Passes", "make_backend", "fragment_meshes", "interior_exposure"]

INTERIOR_SKY = 0.05  # share of skylight reaching the inside of the intact building


def fragment_meshes(scene: Scene, frags: Fragments, seed: int) -> list[Mesh]:
    """Fragments as meshes, tinted per structural element so the facade is not uniform."""
    rng = np.random.default_rng(seed + 1)
    tint = rng.uniform(0.9, 1.08, size=len(scene.building.elements))
    base = np.asarray(scene.building.color)
    return [
        Mesh(v, f, tuple(base * tint[e]), f"frag_{i:05d}")
        for i, (v, f, e) in enumerate(zip(frags.vertices, frags.faces, frags.element))
    ]


def interior_exposure(scene: Scene, meshes: list[Mesh]) -> list[np.ndarray]:
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


def make_backend(spec: ShotSpec, scene: Scene, frags: Fragments, extra: list[Mesh] = (), dust_box=None):
    """The spec's render backend, ready to draw frames of this fractured building
    (parts: fragments first, then the extra meshes such as debris chunks).
    `backend.render(matrices, previous, dust)` returns (passes, dust layer or None)."""
    meshes = fragment_meshes(scene, frags, spec.shot.seed)
    if spec.render.backend == "final":
        from setpiece.render.final import FinalBackend

        return FinalBackend(spec, scene, meshes + list(extra), dust_box)
    from setpiece.render.preview import PreviewBackend

    exposure = interior_exposure(scene, meshes) + [np.ones(len(m.faces)) for m in extra]
    return PreviewBackend(spec, scene, meshes + list(extra), exposure)
