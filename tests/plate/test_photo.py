"""Bad photos are refused with one clear line; huge ones are read small, quickly."""

import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from setpiece.errors import SetpieceError, SpecError
from setpiece.plate import CORNERS_FORMAT, PlateError, PlateSection, PlateWarning, load_photo, match_camera


def _jpeg(path, size=(320, 240), color=(120, 130, 140)):
    Image.new("RGB", size, color).save(path, quality=90)
    return path


def test_reads_a_photo_as_rgb_bytes(tmp_path):
    photo = load_photo(_jpeg(tmp_path / "p.jpg"))
    assert photo.pixels.shape == (240, 320, 3) and photo.pixels.dtype == np.uint8
    assert photo.scale == 1.0 and photo.original_size == (320, 240)


def test_missing_file_names_the_field(tmp_path):
    with pytest.raises(PlateError, match=r"plate\.photo: photo not found"):
        load_photo(tmp_path / "nope.jpg")


def test_tiny_image_is_refused(tmp_path):
    with pytest.raises(PlateError, match=r"only 40x30 pixels"):
        load_photo(_jpeg(tmp_path / "t.jpg", (40, 30)))


def test_corrupt_file_is_refused(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg at all" * 40)
    with pytest.raises(PlateError, match="not an image file"):
        load_photo(bad)


def test_truncated_jpeg_is_refused(tmp_path):
    good = _jpeg(tmp_path / "g.jpg", (640, 480))
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    Image.fromarray(noise).save(good, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(PlateError, match="corrupt or truncated"):
        load_photo(cut)


def test_huge_jpeg_is_read_reduced_with_a_warning(tmp_path):
    huge = tmp_path / "huge.jpg"
    Image.MAX_IMAGE_PIXELS, saved = None, Image.MAX_IMAGE_PIXELS
    try:
        Image.new("L", (20000, 20000), 128).save(huge, quality=20)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    start = time.perf_counter()
    with pytest.warns(PlateWarning, match="20000x20000"):
        photo = load_photo(huge, max_pixels=2_000_000)
    assert time.perf_counter() - start < 3.0
    assert photo.pixels.shape[0] * photo.pixels.shape[1] <= 2_000_000
    assert photo.scale == pytest.approx(photo.width / 20000)


def _png_header_only(path, width, height):
    """A PNG whose header claims a size its data does not have (a decompression bomb's shape)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    return path


def test_huge_png_is_refused_before_decoding(tmp_path):
    start = time.perf_counter()
    with pytest.raises(PlateError, match="too large to decode"):
        load_photo(_png_header_only(tmp_path / "bomb.png", 20000, 20000))
    assert time.perf_counter() - start < 1.0


def test_photo_without_a_building_asks_for_corners():
    rng = np.random.default_rng(3)
    clouds = rng.normal(0, 1, (30, 40))
    import cv2

    sky = cv2.resize(clouds, (640, 480), interpolation=cv2.INTER_CUBIC)
    img = np.clip(150 + 30 * sky[..., None] * [1, 1, 0.5], 0, 255).astype(np.uint8)
    with pytest.raises(PlateError) as err:
        match_camera(img)
    message = str(err.value)
    assert "no building found" in message and CORNERS_FORMAT in message
    assert "plate.corners = [[x,y],[x,y],[x,y],[x,y]]" in message
    assert isinstance(err.value, SetpieceError)


def test_section_rejects_bad_values():
    with pytest.raises(ValueError, match="finite"):
        PlateSection(focal_length=float("nan"))
    with pytest.raises(ValueError, match="out of order"):
        PlateSection(corners=[(100, 10), (10, 10), (10, 100), (100, 100)])
    with pytest.raises(ValueError, match="Extra inputs"):
        PlateSection(corner=[(0, 0)] * 4)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        PlateSection(storeys=0)
    section = PlateSection(corners=[(10, 10), (200, 12), (205, 150), (8, 148)])
    with pytest.raises(SpecError, match=r"plate\.corners: .* outside the 100x100 photo"):
        section.check_corners_inside(100, 100)
    section.check_corners_inside(640, 480)
    with pytest.raises(ValueError):
        section.storeys = 3  # frozen, like the spec's sections


def test_corners_alone_are_enough_where_no_lines_are_found():
    import cv2

    rng = np.random.default_rng(3)
    sky = cv2.resize(rng.normal(0, 1, (30, 40)), (640, 480), interpolation=cv2.INTER_CUBIC)
    img = np.clip(150 + 30 * sky[..., None] * [1, 1, 0.5], 0, 255).astype(np.uint8)
    corners = [(100, 65), (500, 115), (500, 365), (100, 415)]  # a wall receding to the right, eye level 240
    with pytest.warns(PlateWarning, match="plate.focal_length"):
        match = match_camera(img, PlateSection(corners=corners, storeys=5))
    from setpiece.plate import find_facade

    facade = find_facade(img, match)
    assert np.abs(facade.projected_face("front")[[3, 2, 1, 0]] - np.asarray(corners)).max() < 1.0
    assert facade.storeys == 5 and facade.proxy.height == pytest.approx(16.0)
