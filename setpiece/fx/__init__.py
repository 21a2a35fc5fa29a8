"""Effects: dust (grid smoke sourced from sim events) and its volume rendering."""

from setpiece.fx.smoke import DustEvent, DustFrame, DustSolver, grid_box, simulate_dust
from setpiece.fx.volume import (
    composite_over,
    ray_distance,
    raymarch,
    read_vol,
    sun_transmittance,
    vol_to_world,
    write_vol,
)

__all__ = [
    "DustEvent",
    "DustFrame",
    "DustSolver",
    "grid_box",
    "simulate_dust",
    "raymarch",
    "composite_over",
    "ray_distance",
    "sun_transmittance",
    "write_vol",
    "read_vol",
    "vol_to_world",
]
