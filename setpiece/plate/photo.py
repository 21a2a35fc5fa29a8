"""Reading a street photo safely: refuse what is not a usable photo, shrink what is huge.

Huge JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself (Pillow's
``draft``), so a 20000x20000 photo costs a fraction of a second; formats that
cannot be decoded at reduced size are refused above ``HARD_MAX_PIXELS``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from setpiece.errors import InputError

DEFAULT_MAX_PIXELS = 4096 * 4096
HARD_MAX_PIXELS = 100_000_000  # full decode of a non-JPEG above this takes seconds and gigabytes
MIN_SIDE = 64  # pixels: below this no line or window can be measured


class PlateError(InputError):
    """A plate photo cannot be used (unreadable, too small, or nothing found in it)."""


class PlateWarning(UserWarning):
    """Something was changed or assumed about a plate photo (downscaled, default focal length)."""


@dataclass(frozen=True)
class Photo:
    pixels: np.ndarray  # (H, W, 3) uint8 sRGB, rows from the top
    path: str
    original_size: tuple[int, int]  # (width, height) in the file, after EXIF rotation
    scale: float  # pixels here per pixel of the file (1.0 unless downscaled)
    focal_35mm: float | None = None  # the camera's own note (EXIF FocalLengthIn35mmFilm), if any

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]


def load_photo(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, field: str = "plate.photo") -> Photo:
    """Decode a photo as RGB uint8, at most ``max_pixels`` (downscaled with a PlateWarning).

    Raises PlateError naming ``field`` for a missing, corrupt, truncated or tiny file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise PlateError(f"{field}: photo not found: {str(path)!r}")
    try:
        with _no_pillow_bomb_limit(Image):  # we apply our own limits below
            im = Image.open(path)
            _check_size(path, field, *im.size, im.format)  # before anything may decode pixels
            w, h = _display_size(im)
            focal_35mm = _exif_focal_35mm(im)
            target = _target_size(w, h, max_pixels)
            if target != (w, h) and im.format == "JPEG":
                im.draft("RGB", _raw_size(im, target))  # libjpeg decodes at 1/2..1/8 scale
            im = ImageOps.exif_transpose(im).convert("RGB")
    except UnidentifiedImageError:
        raise PlateError(f"{field}: {path} is not an image file (corrupt or unknown format)") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise PlateError(f"{field}: cannot decode {path} ({err}); the file is corrupt or truncated") from None
    pixels = np.asarray(im)
    if (im.width, im.height) != target:
        import cv2

        pixels = cv2.resize(pixels, target, interpolation=cv2.INTER_AREA)
    if target != (w, h):
        warnings.warn(
            f"{field}: {path.name} is {w}x{h}; analysed at {target[0]}x{target[1]}", PlateWarning, stacklevel=2
        )
    return Photo(np.ascontiguousarray(pixels), str(path), (w, h), target[0] / w, focal_35mm)


@contextlib.contextmanager
def _no_pillow_bomb_limit(image_module):
    saved = image_module.MAX_IMAGE_PIXELS
    image_module.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        image_module.MAX_IMAGE_PIXELS = saved


def _exif_focal_35mm(im) -> float | None:
    """Full-frame-equivalent focal length that phones and most cameras record."""
    try:
        value = float(im.getexif().get_ifd(0x8769).get(0xA405, 0))
    except (TypeError, ValueError, OSError):
        return None
    return value if 4.0 <= value <= 600.0 else None


def _display_size(im) -> tuple[int, int]:
    """Size after the EXIF orientation tag is applied (phones store portraits sideways)."""
    orientation = im.getexif().get(0x0112, 1)
    return (im.height, im.width) if orientation in (5, 6, 7, 8) else (im.width, im.height)


def _check_size(path: Path, field: str, w: int, h: int, fmt: str | None) -> None:
    if min(w, h) < MIN_SIDE:
        raise PlateError(f"{field}: {path} is only {w}x{h} pixels; use a photo at least {MIN_SIDE} pixels a side")
    if w * h > HARD_MAX_PIXELS and fmt != "JPEG":
        raise PlateError(
            f"{field}: {path} is {w}x{h} ({fmt}), too large to decode; save it as a JPEG or "
            f"downscale it below {HARD_MAX_PIXELS // 1_000_000} megapixels"
        )


def _target_size(w: int, h: int, max_pixels: int) -> tuple[int, int]:
    if w * h <= max_pixels:
        return w, h
    s = math.sqrt(max_pixels / (w * h))
    return max(1, int(w * s)), max(1, int(h * s))


def _raw_size(im, target: tuple[int, int]) -> tuple[int, int]:
    """The draft size in the file's own orientation."""
    w, h = target
    return (h, w) if (im.width, im.height) != _display_size(im) else (w, h)
