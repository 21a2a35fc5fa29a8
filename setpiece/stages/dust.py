"""Dust stage: a grid smoke sim sourced from the sim's events (density per frame)."""

from __future__ import annotations

import dataclasses

import numpy as np

from setpiece.artifacts import DustVolume
from setpiece.errors import SetpieceError, SpecError
from setpiece.graph import Context, Stage


def run(ctx: Context) -> DustVolume | None:
    from setpiece.fx.smoke import simulate_dust

    d, motion, building = ctx.spec.dust, ctx.inputs["sim"], ctx.inputs["scene"]
    if not d.enabled or d.amount == 0:
        return None
    lo, hi = dust_bounds(building)
    seed = int(ctx.rng().integers(2**31))
    frames = []
    for frame in simulate_dust(
        motion.events,
        lo,
        hi,
        motion.frames,
        ctx.spec.shot.fps,
        d.resolution,
        device=ctx.spec.render.device,
        seed=seed,
        amount=d.amount,
        wind=d.wind,
    ):
        frames.append(dataclasses.replace(frame, density=frame.density.astype(np.float16)))  # half the memory
        ctx.report(len(frames), motion.frames)
    return DustVolume(frames)


def dust_bounds(building) -> tuple[np.ndarray, np.ndarray]:
    """The box dust can fill: the collapse's reach around the footprint, and high
    enough above the roof that the rising cloud is not cut flat by the box's top."""
    reach = max(building.height, *building.footprint) * 1.6
    return np.array([-reach, -reach, 0.0]), np.array([reach, reach, building.height * 2.0])


def _resolved(values: dict) -> dict:
    """Key the dust by the device that actually runs it: CPU and CUDA solve pressure differently."""
    from setpiece.fx.smoke import resolve_device

    try:
        device = resolve_device(values["render.device"])
    except SetpieceError:
        raise SpecError(
            f"render.device = {values['render.device']!r}: no CUDA GPU is visible here; use 'auto' or 'cpu'"
        ) from None
    return {**values, "render.device": device}


STAGE = Stage(
    name="dust",
    reads=("dust", "shot.fps", "shot.seed", "render.device"),
    needs=("scene", "sim"),
    version="4",
    run=run,
    schema=DustVolume.SCHEMA,
    key_values=_resolved,
)
