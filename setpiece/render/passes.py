"""The per-frame image passes every backend returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Passes:
    beauty: np.ndarray  # (H, W, 3) linear light, premultiplied by alpha
    alpha: np.ndarray  # (H, W) coverage of geometry (0 where only sky)
    depth: np.ndarray  # (H, W) view-space distance in metres, inf on sky
    normal: np.ndarray  # (H, W, 3) world-space unit normals, 0 on sky
    part: np.ndarray  # (H, W) int32 part (fragment) id; -1 sky, -2 ground
    motion: np.ndarray  # (H, W, 2) pixels moved since the previous frame (x right, y down)
    shadow: np.ndarray  # (H, W) sun visibility on the ground (0 in shadow), 1 off the ground
    matte: np.ndarray  # (H, W) coverage of the building and debris alone (no ground)

    @property
    def size(self) -> tuple[int, int]:
        return self.beauty.shape[1], self.beauty.shape[0]
