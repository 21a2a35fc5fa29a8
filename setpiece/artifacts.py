"""Typed artifacts passed between stages, in one place.

Each artifact class carries a SCHEMA label (name.version, the way OpenTimelineIO
labels `Clip.2`). A stage's cache key includes the schema of what it returns,
so changing an artifact's layout invalidates every cached copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

EventKind = Literal["crack", "break", "impact"]
EVENT_KINDS = ("crack", "break", "impact")


@dataclass(frozen=True)
class Event:
    """Something in the sim that makes dust and debris.

    crack: a bond between two bodies gives way (the pieces part slowly);
    break: a member is pulverised or shattered (cut supports, blasts, hard hits);
    impact: a body changes velocity sharply (hits the ground or another body).
    mass is the material involved (kg), speed the relative speed at the event (m/s).
    """

    SCHEMA = "Event.1"
    time: float  # s
    position: tuple[float, float, float]  # m, world
    mass: float  # kg
    speed: float  # m/s
    kind: EventKind

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"Event.kind {self.kind!r} must be one of {EVENT_KINDS}")
        if not (self.mass >= 0 and self.speed >= 0):
            raise ValueError(f"Event mass {self.mass} and speed {self.speed} must be >= 0")

    @property
    def energy(self) -> float:
        """Kinetic energy released (J)."""
        return 0.5 * self.mass * self.speed**2


@dataclass
class Fragments:
    """Convex fragments in world space, with the bond graph and clusters."""

    SCHEMA = "Fragments.1"
    vertices: list[np.ndarray]  # per fragment (Vi, 3), world
    faces: list[np.ndarray]  # per fragment (Fi, 3) triangle indices, outward
    centroids: np.ndarray  # (N, 3)
    volumes: np.ndarray  # (N,)
    element: np.ndarray  # (N,) index into building.elements
    bonds: np.ndarray  # (B, 2) fragment pairs that touch
    bond_area: np.ndarray  # (B,) m2 of shared face
    cluster: np.ndarray  # (N,) cluster index

    def __len__(self) -> int:
        return len(self.volumes)

    @property
    def n_clusters(self) -> int:
        return int(self.cluster.max()) + 1


@dataclass
class Motion:
    """Per-frame rigid transforms of parts relative to their rest pose, and the events."""

    SCHEMA = "Motion.1"
    rotations: np.ndarray  # (frames, N, 4) quaternions x, y, z, w
    translations: np.ndarray  # (frames, N, 3): world = R x_rest + t
    visible: np.ndarray  # (frames, N) bool; supports cut by the trigger vanish into dust
    events: list[Event] = field(default_factory=list)
    fps: float = 24.0

    @property
    def frames(self) -> int:
        return len(self.rotations)

    def concat(self, other: Motion) -> Motion:
        """Both sets of parts in one result (this one's parts first)."""
        return Motion(
            np.concatenate([self.rotations, other.rotations], axis=1),
            np.concatenate([self.translations, other.translations], axis=1),
            np.concatenate([self.visible, other.visible], axis=1),
            self.events + other.events,
            self.fps,
        )

    def matrices(self, frame: int) -> np.ndarray:
        """(N, 4, 4) world-from-rest matrices of one frame; hidden parts collapse to a point."""
        q, t = self.rotations[frame].astype(float), self.translations[frame].astype(float)
        m = np.zeros((len(q), 4, 4))
        m[:, :3, :3] = quat_to_matrix(q)
        m[:, :3, 3] = t
        m[:, 3, 3] = 1.0
        m[~self.visible[frame]] = 0.0
        return m


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(N, 4) quaternions x, y, z, w -> (N, 3, 3) rotation matrices."""
    x, y, z, w = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


@dataclass
class Debris:
    """Fine chunks: chunk i is prototype i % len(prototypes) scaled by scales[i]."""

    SCHEMA = "Debris.1"
    meshes: list  # list[setpiece.geometry.Mesh]
    motion: Motion

    @property
    def scales(self) -> np.ndarray:
        return np.array([m.meta.get("scale", 1.0) for m in self.meshes])


@dataclass(frozen=True)
class DustFrame:
    """One frame of dust: density on the grid box [bounds_min, bounds_max]."""

    index: int
    time: float
    density: np.ndarray  # (nx, ny, nz), cell-centred
    bounds_min: tuple[float, float, float]
    bounds_max: tuple[float, float, float]


@dataclass
class DustVolume:
    """Dust density per frame, all on one grid box."""

    SCHEMA = "DustVolume.1"
    frames: list[DustFrame]

    def __getitem__(self, frame: int) -> DustFrame:
        return self.frames[frame]

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Passes:
    """The per-frame image passes every render backend returns."""

    SCHEMA = "Passes.2"
    beauty: np.ndarray  # (H, W, 3) linear light, premultiplied by alpha
    alpha: np.ndarray  # (H, W) coverage of geometry (0 where only sky)
    depth: np.ndarray  # (H, W) view-space distance in metres, inf on sky
    normal: np.ndarray  # (H, W, 3) world-space unit normals, 0 on sky
    # (H, W) int32 part id: >= 0 fragments then debris; -1 sky, -2 ground and road,
    # -3 pavements and kerbs, -4 - k neighbouring building k (setpiece.world.environment)
    part: np.ndarray
    motion: np.ndarray  # (H, W, 2) pixels moved since the previous frame (x right, y down)
    shadow: np.ndarray  # (H, W) sun visibility on the ground (0 in shadow), 1 off the ground
    matte: np.ndarray  # (H, W) coverage of the building and debris alone (no ground)
    background: np.ndarray | None = None  # (H, W, 3) the sky behind everything (linear); None: comp draws one

    @property
    def size(self) -> tuple[int, int]:
        return self.beauty.shape[1], self.beauty.shape[0]
