"""Camera match: a pinhole camera and a metric world recovered from one street photo.

World frame (as setpiece/world/building.py builds its block): Z up, metres,
ground at z = 0; the target facade is the front face of a building whose
footprint is centred on the origin, so the facade lies in the plane
y = -depth/2, spans x in [-width/2, width/2] and z in [0, height]; the camera
stands in front of it (y < -depth/2).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from setpiece.camera import Camera
from setpiece.plate.facade_search import auto_quad, estimate_storeys, quad_from_hint
from setpiece.plate.lines import Segments, angle_errors, detect_segments
from setpiece.plate.photo import Photo, PlateError, PlateWarning
from setpiece.plate.section import CORNERS_FORMAT, PlateSection
from setpiece.plate.vanishing import (
    F_RANGE,
    VanishingPoints,
    find_vanishing_points,
    focal_from_pairs,
    orient_along_facade,
    refine,
    rotation_from_vps,
)

DEFAULT_FOCAL_MM = 28.0  # full-frame equivalent of a phone's main camera
EYE_HEIGHT = 1.6  # metres: a hand-held camera, used for scale when no storeys are seen
MAX_ROLL_FOR_CAMERA = 0.5  # degrees: setpiece.camera.Camera has no roll


@dataclass(frozen=True)
class CameraMatch:
    width: int
    height: int
    focal_px: float
    rotation: np.ndarray  # (3, 3) camera-from-world; camera axes x right, y down, z forward
    position: np.ndarray  # (3,) world metres
    sensor_width: float
    quad: np.ndarray  # (4, 2) facade corners in pixels: top-left, top-right, bottom-right, bottom-left
    facade_size: tuple[float, float]  # metres (width, height)
    depth: float  # metres, of the proxy building behind the facade
    storeys: int
    storey_height: float
    segments: Segments
    families: np.ndarray  # per segment: 0 world X (along the facade), 1 world Y, 2 vertical, -1 none
    focal_source: str  # hint | lines | corners | exif | default
    storeys_source: str  # hint | measurement | windows | eye height
    warnings: tuple[str, ...] = field(default=())

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.focal_px, 0, self.width / 2], [0, self.focal_px, self.height / 2], [0, 0, 1.0]])

    @property
    def focal_length(self) -> float:
        """mm on a sensor ``sensor_width`` wide."""
        return self.focal_px * self.sensor_width / self.width

    def vanishing_point(self, axis: int) -> np.ndarray:
        """Homogeneous pixel point where lines along world axis 0/1/2 meet."""
        return self.K @ self.rotation[:, axis]

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> (N, 3): pixel x, pixel y, depth along the view axis."""
        cam = (np.asarray(points, float) - self.position) @ self.rotation.T
        z = cam[:, 2]
        px = self.focal_px * cam[:, 0] / z + self.width / 2
        py = self.focal_px * cam[:, 1] / z + self.height / 2
        return np.c_[px, py, z]

    def horizon(self) -> np.ndarray:
        """Horizon line (a, b, c) in pixels, a x + b y + c = 0, (a, b) unit."""
        line = np.linalg.inv(self.K).T @ self.rotation[:, 2]
        return line / np.linalg.norm(line[:2])

    def ground_plane(self) -> tuple[np.ndarray, float]:
        """The ground (world z = 0) in camera coordinates: unit normal n and offset d, n . X + d = 0."""
        normal = self.rotation[:, 2]
        return normal, float(self.position[2])

    @property
    def roll(self) -> float:
        """Degrees the horizon is turned in the image (counter-clockwise positive)."""
        up = self.rotation[:, 2]
        return math.degrees(math.atan2(up[0], -up[1]))

    @property
    def pitch(self) -> float:
        """Degrees the view axis points above the horizon."""
        return math.degrees(math.asin(np.clip(self.rotation[2, 2], -1, 1)))

    def forward(self) -> np.ndarray:
        return self.rotation[2]  # the camera's z axis in world coordinates

    def to_camera(self) -> Camera:
        """setpiece's Camera (no roll: a tilted horizon is levelled, with a warning above 0.5 deg)."""
        if abs(self.roll) > MAX_ROLL_FOR_CAMERA:
            warnings.warn(
                f"plate: the photo's horizon is rolled {self.roll:.1f} deg; setpiece.camera.Camera has no roll",
                PlateWarning,
                stacklevel=2,
            )
        centre = np.array([0.0, -self.depth / 2, self.facade_size[1] / 2])
        dist = float(np.linalg.norm(centre - self.position))
        target = self.position + self.forward() * dist
        return Camera(
            tuple(map(float, self.position)),
            tuple(map(float, target)),
            float(self.focal_length),
            float(self.sensor_width),
            self.width,
            self.height,
            far=5000.0,
        )


def match_camera(image: Photo | np.ndarray, hints: PlateSection | None = None) -> CameraMatch:
    """Recover camera, facade and scale from a photo; any hint given wins over what is measured."""
    hints = hints or PlateSection()
    rgb, scale = (image.pixels, image.scale) if isinstance(image, Photo) else (np.asarray(image), 1.0)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)  # a grey photo
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise ValueError(
            f"match_camera wants an (H, W, 3) uint8 photo (load_photo gives one), got {rgb.shape} {rgb.dtype}"
        )
    rgb = rgb[..., :3]
    exif_focal = image.focal_35mm if isinstance(image, Photo) else None
    h, w = rgb.shape[:2]
    corners = None
    if hints.corners is not None:
        corners = np.asarray(hints.corners, float) * scale
        hints.check_corners_inside(round(w / scale), round(h / scale))
    segs = detect_segments(rgb)
    notes: list[str] = []
    f_hint = hints.focal_length / hints.sensor_width * w / segs.scale if hints.focal_length else None
    f, source, candidates = _orientations(segs, find_vanishing_points(segs, f_hint), f_hint, exif_focal, corners, notes)
    if corners is not None:
        rot, f, families = _frame_for_corners(candidates, corners, segs)
        if _corner_misfit(rot, f, corners, segs) > CORNER_TOL:
            # the lines disagree with the user's facade edges: the corners win
            notes.clear()
            none = _corner_vps(corners, segs, VanishingPoints(None, (), ()))
            f, source, candidates = _orientations(segs, none, f_hint, exif_focal, corners, notes)
            rot, f, families = candidates[0]
        quad = quad_from_hint(corners)
    else:
        found = [(auto_quad(rgb, segs, f * segs.scale, rot, fam), rot, ff, fam) for rot, ff, fam in candidates]
        found = [c for c in found if c[0] is not None]
        if not found:
            raise PlateError(_not_found(segs, "found no facade region where vertical and horizontal lines cross"))
        best, _, f, families = max(found, key=lambda c: c[0].score)
        quad, rot = best.corners, best.rotation
        _check_facade(segs, families, quad)
    f_px = f * segs.scale
    K = np.array([[f_px, 0, w / 2], [0, f_px, h / 2], [0, 0, 1.0]])
    rot = orient_along_facade(rot, K, quad.mean(axis=0))
    plane = _facade_on_plane(K, rot, quad)
    size, storeys, storeys_source = _scale(rgb, quad, plane, hints, notes)
    metres = size[1] / (plane["z"][1] - plane["z"][0])
    side = _side_depth(segs, families, K, rot, plane)
    depth = hints.depth or (side * metres if side else float(np.clip(0.75 * size[0], 6.0, 20.0)))
    position = _camera_position(plane, size, depth)
    for note in notes:
        warnings.warn(note, PlateWarning, stacklevel=2)
    return CameraMatch(
        w,
        h,
        f_px,
        rot,
        position,
        hints.sensor_width,
        quad,
        size,
        depth,
        storeys,
        hints.storey_height,
        segs,
        families,
        source,
        storeys_source,
        tuple(notes),
    )


def _not_found(segs: Segments, why: str) -> str:
    return (
        f"plate: no building found in the photo ({why}; {len(segs)} line segments); "
        f"mark the facade by hand: {CORNERS_FORMAT}"
    )


MIN_FAMILY = 8  # segments along each facade direction
MIN_FACADE_SHARE = 0.02  # of the frame


def _check_facade(segs: Segments, families: np.ndarray, quad: np.ndarray) -> None:
    """A found facade needs lines along both of its directions and a sensible size."""
    counts = [(families == k).sum() for k in (0, 2)]
    if min(counts) < MIN_FAMILY:
        raise PlateError(_not_found(segs, f"only {min(counts)} lines along the best facade's edges"))
    d1, d2 = quad[2] - quad[0], quad[3] - quad[1]
    area = 0.5 * abs(d1[0] * d2[1] - d1[1] * d2[0])
    if area < MIN_FACADE_SHARE * segs.width * segs.height:
        raise PlateError(_not_found(segs, "the best facade candidate covers almost none of the frame"))


CORNER_TOL = 10.0  # pixels the user's facade edges may miss the lines' vanishing points (clicks miss by a few)


def _orientations(segs, vps: VanishingPoints, f_hint, exif_focal, corners, notes):
    """Focal length, its source and one (rotation, focal, families) per candidate facade direction."""
    if corners is not None:
        vps = _corner_vps(corners, segs, vps)
    if vps.vertical is None or not vps.horizontal:
        raise PlateError(_not_found(segs, "found no vertical and horizontal lines meeting at vanishing points"))
    f, source = _focal(vps, f_hint, exif_focal, segs.width, segs.scale, notes)
    if source == "lines" and not any(m.any() for m in vps.inliers):
        source = "corners"  # the facade's own edges gave the vanishing points
    if source in ("exif", "default") and any(m.any() for m in vps.inliers):
        # with the focal length known, vanishing points must be truly orthogonal: look again
        vps = find_vanishing_points(segs, f)
        if corners is not None:
            vps = _corner_vps(corners, segs, vps)
        if vps.vertical is None or not vps.horizontal:
            raise PlateError(_not_found(segs, "found no vertical and horizontal lines meeting at vanishing points"))
    return f, source, _frames(segs, vps, f, fixed=source not in ("lines", "corners"))


def _corner_misfit(rot: np.ndarray, f: float, corners: np.ndarray, segs: Segments) -> float:
    """Pixels by which the user's facade edges miss the frame's vanishing directions (the angle
    between edge and vanishing direction, times the edge's length)."""
    c = (corners - [segs.width / 2, segs.height / 2]) / segs.scale
    worst = 0.0
    for axis, edges in ((0, ((0, 1), (3, 2))), (2, ((0, 3), (1, 2)))):
        vp = np.array([f * rot[0, axis], f * rot[1, axis], rot[2, axis]])
        ends = np.array([np.r_[c[a], c[b]] for a, b in edges])
        length = np.hypot(*(ends[:, 2:] - ends[:, :2]).T) * segs.scale
        worst = max(worst, float((angle_errors(ends, vp)[0] * length).max()))
    return worst


def _corner_vps(corners: np.ndarray, segs: Segments, vps: VanishingPoints) -> VanishingPoints:
    """Where the lines gave too little, the user's corners give the facade's own vanishing points."""
    if vps.vertical is not None and vps.horizontal:
        return vps
    c = (corners - [segs.width / 2, segs.height / 2]) / segs.scale
    p = np.c_[c, np.ones(4)]
    vertical = np.cross(np.cross(p[0], p[3]), np.cross(p[1], p[2]))  # left and right edges
    horizontal = np.cross(np.cross(p[0], p[1]), np.cross(p[3], p[2]))  # top and bottom edges
    none = np.zeros(len(segs), bool)
    if vps.vertical is None:
        return VanishingPoints(
            vertical / np.linalg.norm(vertical), (horizontal / np.linalg.norm(horizontal),), (none, none)
        )
    return VanishingPoints(vps.vertical, (horizontal / np.linalg.norm(horizontal),), (vps.inliers[0], none))


def _focal(vps: VanishingPoints, f_hint, exif_35mm, width: int, scale: float, notes: list[str]) -> tuple[float, str]:
    """The user's focal length, else the one the lines measure, else the camera's EXIF note, else a default."""
    if f_hint:
        return f_hint, "hint"
    f = focal_from_pairs([vps.vertical, *vps.horizontal])
    if f is not None:
        return f, "lines"
    if exif_35mm:
        return float(np.clip(exif_35mm / 36.0 * width / scale, *F_RANGE)), "exif"
    notes.append(
        f"plate: the focal length cannot be measured from this photo's lines; assumed {DEFAULT_FOCAL_MM:g} mm "
        "(full-frame equivalent): set plate.focal_length if you know it"
    )
    return float(np.clip(DEFAULT_FOCAL_MM / 36.0 * width / scale, *F_RANGE)), "default"


def _frames(segs: Segments, vps: VanishingPoints, f: float, fixed: bool):
    """One refined (rotation, focal, families) per horizontal vanishing point taken as the facade's."""
    norm = segs.normalised()
    out = []
    for k, vh in enumerate(vps.horizontal):
        rot = rotation_from_vps(f, vps.vertical, vh)
        fam = [vps.inliers[1 + k], _other(vps, k), vps.inliers[0]]
        ff, rot = refine(norm, segs.px_scale, fam, f, rot, fix_f=fixed)
        families = np.full(len(segs), -1)
        for axis, mask in enumerate(fam):
            families[mask] = axis
        out.append((rot, ff, families))
    return out


def _other(vps: VanishingPoints, k: int) -> np.ndarray:
    if len(vps.horizontal) < 2:
        return np.zeros_like(vps.inliers[0])
    return vps.inliers[2 - k]


def _frame_for_corners(candidates, corners: np.ndarray, segs: Segments):
    """The frame whose facade direction runs along the user's edges."""
    return min(candidates, key=lambda c: _corner_misfit(c[0], c[1], corners, segs))


def _facade_on_plane(K: np.ndarray, rot: np.ndarray, quad: np.ndarray) -> dict:
    """The quad's corners on the plane y = 1 in front of a camera at the origin (world axes):
    left/right x and bottom/top z as fitted to the rectangle."""
    rays = (np.c_[quad, np.ones(4)] @ np.linalg.inv(K).T) @ rot  # world directions
    if np.any(rays[:, 1] <= 1e-6):
        raise PlateError("plate.corners: the facade corners do not form a wall facing the camera; " + CORNERS_FORMAT)
    pts = rays / rays[:, 1:2]
    return {
        "x": (float(pts[[0, 3], 0].mean()), float(pts[[1, 2], 0].mean())),
        "z": (float(pts[[2, 3], 2].mean()), float(pts[[0, 1], 2].mean())),
    }


def _scale(rgb, quad, plane, hints: PlateSection, notes) -> tuple[tuple[float, float], int, str]:
    """Facade (width, height) in metres and its storeys: measurements, then storeys x storey height."""
    width_u = plane["x"][1] - plane["x"][0]
    height_u = plane["z"][1] - plane["z"][0]
    aspect = width_u / height_u
    storeys, source = hints.storeys, "hint"
    if hints.facade_height:
        height = hints.facade_height
        source = "measurement"
    elif hints.facade_width:
        height = hints.facade_width / aspect
        source = "measurement"
    else:
        if storeys is None:
            storeys = estimate_storeys(rgb, quad, aspect)
            source = "windows"
        if storeys is None:
            # the camera is at eye height above the facade's foot
            height = EYE_HEIGHT / max(-plane["z"][0], 1e-3) * height_u
            storeys = max(1, round(height / hints.storey_height))
            source = "eye height"
            notes.append(
                f"plate: no rows of windows found; scale from a {EYE_HEIGHT} m camera height "
                f"({storeys} storeys): set plate.storeys if wrong"
            )
        height = storeys * hints.storey_height
    if storeys is None:
        storeys = max(1, round(height / hints.storey_height))
    return (float(height * aspect), float(height)), int(storeys), source


def _side_depth(segs: Segments, families: np.ndarray, K: np.ndarray, rot: np.ndarray, plane: dict) -> float | None:
    """How far the visible side wall runs back from the facade (plane units), from the lines
    across the facade and the verticals that lie on it; None when no side wall is seen clearly."""
    x0, x1 = plane["x"]
    if x0 < 0 < x1:
        return None  # the camera is in front of the facade: neither side wall shows
    x_side = x1 if x1 < 0 else x0
    ends = segs.ends[(families == 1) | (families == 2)]  # the far corner is a vertical line
    if len(ends) < 4:
        return None
    pts = np.r_[ends[:, :2], ends[:, 2:]]
    rays = (np.c_[pts, np.ones(len(pts))] @ np.linalg.inv(K).T) @ rot
    t = x_side / np.where(np.abs(rays[:, 0]) > 1e-9, rays[:, 0], np.nan)
    hit = rays * t[:, None]
    z0, z1 = plane["z"]
    width = x1 - x0
    back = hit[:, 1] - 1.0
    on_wall = (t > 0) & (hit[:, 2] >= z0 - 0.05 * width) & (hit[:, 2] <= z1 + 0.05 * width)
    on_wall &= (back > -0.02 * width) & (back < 3.0 * width)
    if on_wall.sum() < 6:
        return None
    # the wall's lines run back without a break; beyond a gap they belong to something else
    back = np.sort(back[on_wall])
    gaps = np.flatnonzero(np.diff(back) > 0.4 * width)
    depth = float(back[gaps[0]] if len(gaps) else back[-1])
    return depth if depth > 0.15 * width else None


def _camera_position(plane: dict, size: tuple[float, float], depth: float) -> np.ndarray:
    s = size[1] / (plane["z"][1] - plane["z"][0])  # metres per plane unit
    x_mid = (plane["x"][0] + plane["x"][1]) / 2
    return np.array([-x_mid * s, -depth / 2 - s, -plane["z"][0] * s])
