"""The building in the photo, as a shot: the spec from the photo, the plates, the projection.

`resolve` turns a spec with `plate.photo` into one whose building, camera and
frame size come from the photo (what the `plate` fields say wins), with the
facade corners, storeys and focal length written back into `plate`, so the
take's spec.toml shows every choice and reruns exactly. `make_plates` gives the
comp its backgrounds (the photo, and the clean plate with the building removed).
`PhotoProjection` paints the photo onto the fragments as seen from the matched
camera, so the falling pieces carry the real facade; faces the photo never saw
(fracture faces, interiors) keep their CG material.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_RENDER_WIDTH = 1920
ANALYSIS_PIXELS = 4_000_000  # the photo is analysed at up to this size
SEEN_TOLERANCE = 0.04  # share of the distance within which a rest point counts as the surface the photo shows


@dataclass
class Plates:
    """The comp's backgrounds as analysed (up to ANALYSIS_PIXELS), scene-linear RGB;
    `sized` gives them at the render size."""

    SCHEMA = "Plates.1"
    photo: np.ndarray  # (H, W, 3) the street photo
    clean: np.ndarray  # (H, W, 3) the photo with the building removed

    def sized(self, width: int, height: int) -> Plates:
        import cv2

        def fit(img: np.ndarray) -> np.ndarray:
            return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)

        return Plates(fit(self.photo), fit(self.clean))


def resolve(spec):
    """The spec with building, camera and frame size taken from the photo."""
    from setpiece.plate import find_facade, load_photo, match_camera
    from setpiece.spec import enough_fragments, spec_from_dict

    p = spec.plate
    photo = load_photo(p.photo, ANALYSIS_PIXELS)
    p.check_corners_inside(*photo.original_size)
    hints = _scaled_hints(p, photo.scale)
    match = match_camera(photo, hints)
    facade = find_facade(photo, match, hints)
    data = spec.model_dump(mode="json")
    data["building"].update(_building(facade, spec.building.bays))
    camera = match.to_camera()
    data["camera"].update(
        position=list(camera.position),
        target=list(camera.target),
        focal_length=float(np.clip(camera.focal_length, 8.0, 300.0)),
        sensor_width=camera.sensor_width,
    )
    data["render"].update(_frame_size(spec, photo))
    floors = data["building"]["floors"]
    data["trigger"]["floors"] = [f for f in data["trigger"]["floors"] if f < floors] or [0]
    data["plate"].update(
        corners=(np.asarray(match.quad) / photo.scale).round(1).tolist(),
        storeys=facade.storeys,
        focal_length=round(float(match.focal_length), 2),
        depth=round(float(facade.proxy.depth), 2),
    )
    _plate_comp_defaults(spec, data)
    return spec_from_dict(enough_fragments(data), f"{p.photo} (camera match)")


def _scaled_hints(p, scale: float):
    """The user's corner pixels are in the file's pixels; the analysis may run on a smaller copy."""
    if p.corners is None or scale == 1.0:
        return p
    return p.model_copy(update={"corners": tuple((x * scale, y * scale) for x, y in p.corners)})


def _building(facade, bays) -> dict:
    proxy = facade.proxy
    width, depth = (float(np.clip(v, 3.0, 120.0)) for v in (proxy.width, proxy.depth))
    storeys = int(np.clip(facade.storeys, 1, 40))
    storey_height = float(np.clip(proxy.height / storeys, 2.2, 8.0))
    return {
        "floors": storeys,
        "storey_height": storey_height,
        "footprint": [width, depth],
        "bays": [int(np.clip(round(width / 4.0), 1, 12)), int(np.clip(round(depth / 4.0), 1, 12))],
    }


def _frame_size(spec, photo) -> dict:
    """The photo's aspect, at render.width if it was given, else the photo's width up to 1920."""
    width, height = photo.original_size
    out_w = spec.render.width if "width" in spec.render.model_fields_set else min(width, MAX_RENDER_WIDTH)
    return {"width": int(out_w), "height": max(16, round(out_w * height / width))}


def _plate_comp_defaults(spec, data: dict) -> None:
    """Over a photo the comp must leave the photo's pixels as they are: no tone curve, no
    added grain (the photo has its own), unless the spec asks for them."""
    comp_set = spec.comp.model_fields_set
    if "view" not in comp_set:
        data["comp"]["view"] = "Un-tone-mapped"
    if "grain" not in comp_set:
        data["comp"]["grain"] = 0.0


def make_plates(plate) -> Plates:
    """The photo and its clean plate (plate fields as resolved above)."""
    from setpiece.color import srgb_to_linear
    from setpiece.plate import clean_plate, find_facade, load_photo, match_camera

    photo = load_photo(plate.photo, ANALYSIS_PIXELS)
    hints = _scaled_hints(plate, photo.scale)
    facade = find_facade(photo, match_camera(photo, hints), hints)
    clean = clean_plate(photo.pixels, facade.mask())

    def linear(rgb8: np.ndarray) -> np.ndarray:
        return srgb_to_linear(rgb8.astype(np.float32) / 255.0)

    return Plates(linear(photo.pixels), linear(clean))


class PhotoProjection:
    """Paints the photo onto the fragments that it shows, frame by frame.

    A pixel of a fragment is traced back to the fragment's rest pose (the inverse of its
    rigid transform); where that rest point is a surface the photo sees (it lies on the
    intact building's depth seen from the camera), the pixel takes the photo's colour
    there, relit by how the piece has turned to the sun since."""

    def __init__(self, camera, photo: np.ndarray, rest_depth: np.ndarray, n_fragments: int, sun_dir, light):
        self.camera, self.photo = camera, photo
        self.rest_depth, self.n = rest_depth, n_fragments
        self.origin, self.rays = camera.rays()
        self.sun = np.asarray(sun_dir, float)
        self.sun_weight = float(light.sun_intensity) / np.pi
        self.sky_weight = float(light.sky_intensity)

    def apply(self, passes, matrices: np.ndarray) -> None:
        part = passes.part
        mask = (part >= 0) & (part < self.n) & np.isfinite(passes.depth)
        if not mask.any():
            return
        ys, xs = np.nonzero(mask)
        ids = part[ys, xs]
        world = self.origin + self.rays[ys, xs] * _ray_length(passes.depth[ys, xs], self.rays[ys, xs], self.camera)
        m = matrices[ids]
        rot = m[:, :3, :3]
        rest = np.einsum("nji,nj->ni", rot, world - m[:, :3, 3])  # R^T (x - t)
        px = self.camera.project(rest)
        seen = self._seen(px)
        if not seen.any():
            return
        colour = _bilinear(self.photo, px[seen, 0], px[seen, 1])
        normal = passes.normal[ys[seen], xs[seen]]
        rest_normal = np.einsum("nji,nj->ni", rot[seen], normal)
        colour *= (self._shade(normal) / self._shade(rest_normal))[:, None]
        alpha = passes.alpha[ys[seen], xs[seen]][:, None]
        passes.beauty[ys[seen], xs[seen]] = colour * alpha

    def _seen(self, px: np.ndarray) -> np.ndarray:
        h, w = self.rest_depth.shape
        px = np.nan_to_num(px, nan=-1.0, posinf=-1.0, neginf=-1.0)  # points at the camera's plane: not seen
        x, y = np.floor(px[:, 0]).astype(int), np.floor(px[:, 1]).astype(int)
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h) & (px[:, 2] > 0)
        seen = np.zeros(len(px), bool)
        surface = self.rest_depth[y[inside], x[inside]]
        seen[inside] = np.abs(px[inside, 2] - surface) < SEEN_TOLERANCE * surface
        return seen

    def _shade(self, normal: np.ndarray) -> np.ndarray:
        sun = np.maximum(normal @ self.sun, 0.0) * self.sun_weight
        sky = (0.5 + 0.5 * normal[:, 2]) * self.sky_weight
        return np.maximum(sun + sky, 0.05 * (self.sun_weight + self.sky_weight))


def _ray_length(zdepth: np.ndarray, rays: np.ndarray, camera) -> np.ndarray:
    """Distance along each unit ray to the point whose view depth is zdepth."""
    forward = camera.basis()[2]
    return (zdepth / np.maximum(rays @ forward, 1e-6))[:, None]


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x, y = np.clip(x - 0.5, 0, w - 1.001), np.clip(y - 0.5, 0, h - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
