import numpy as np
import pytest

from setpiece import color
from setpiece.artifacts import Passes
from setpiece.comp import comp_frame, film_grain, load_plate, motion_blur
from setpiece.errors import InputError, SpecError
from setpiece.graph import stage_rng
from tests.conftest import small_spec


def _passes(h=24, w=32, motion=(0.0, 0.0)):
    beauty = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    beauty[8:16, 10:20] = 0.4
    alpha[8:16, 10:20] = 1.0
    part = np.where(alpha > 0, 5, -1).astype(np.int32)
    part[16:] = -2
    shadow = np.ones((h, w), np.float32)
    shadow[18:, 10:20] = 0.0
    return Passes(
        beauty=beauty,
        alpha=alpha,
        depth=np.full((h, w), np.inf),
        normal=np.zeros((h, w, 3)),
        part=part,
        motion=np.broadcast_to(np.float32(motion), (h, w, 2)).copy(),
        shadow=shadow,
        matte=alpha.copy(),
    )


def test_display_transform_is_aces_and_monotonic():
    grey = np.array([[[0.0, 0.0, 0.0], [0.18, 0.18, 0.18], [1.0, 1.0, 1.0], [16.0, 16.0, 16.0]]], np.float32)
    out = color.to_display(grey)[0, :, 0]
    assert out[0] < 0.01 and np.all(np.diff(out) > 0) and out[-1] <= 1.0
    assert 0.3 < out[1] < 0.4  # ACES 2.0 SDR puts mid grey near 0.35 encoded


def test_baked_lut_matches_exact_ocio():
    import PyOpenColorIO as ocio

    cfg = ocio.Config.CreateFromBuiltinConfig(color.BUILTIN_CONFIG)
    exact = cfg.getProcessor(
        ocio.DisplayViewTransform(
            src=color.SCENE_LINEAR, display="sRGB - Display", view="ACES 2.0 - SDR 100 nits (Rec.709)"
        )
    ).getDefaultCPUProcessor()
    rng = np.random.default_rng(0)
    img = (rng.uniform(0.02, 1.0, (64, 64, 1)) * rng.uniform(0.6, 1.0, (64, 64, 3)) * 3).astype(np.float32)
    ref = img.copy()
    exact.applyRGB(ref)
    assert np.abs(color.to_display(img) - np.clip(ref, 0, 1)).mean() < 1.0 / 255


def test_unknown_view_names_the_field():
    with pytest.raises(SpecError, match="comp.view"):
        color.check_display("", "sRGB - Display", "No Such View")


def test_shadow_catcher_darkens_plate_only_in_shadow():
    spec = small_spec(comp={"grain": 0.0, "motion_blur": 0.0, "shadow_strength": 0.8})
    plate = np.full((24, 32, 3), 0.5, np.float32)
    out = comp_frame(spec, _passes(), np.random.default_rng(0), plate=plate).linear
    assert out[20, 2] == pytest.approx(0.5)  # lit ground: plate untouched
    assert out[20, 15] == pytest.approx(0.1)  # shadowed ground: plate x (1 - 0.8)
    assert out[10, 15] == pytest.approx(0.4)  # building holds out the plate


def test_motion_blur_smears_along_motion_only():
    p = _passes(motion=(8.0, 0.0))
    rgba = np.dstack([p.beauty, p.alpha])
    blurred = motion_blur(rgba, p.motion, 1.0)
    assert blurred[12, 22, 3] > 0.1 and blurred[12, 15, 3] == pytest.approx(1.0)  # smeared sideways
    assert blurred[5, 15, 3] == 0.0  # not vertically
    assert blurred[..., 3].sum() == pytest.approx(rgba[..., 3].sum(), rel=0.02)  # coverage conserved
    assert motion_blur(rgba, p.motion * 0, 1.0) is rgba


def test_grain_is_seeded_and_strongest_in_midtones():
    img = np.full((64, 64, 3), 0.5, np.float32)

    def grain(image, frame):
        return film_grain(image, 1.0, stage_rng(7, "comp", frame))

    a, b = grain(img, 3), grain(img, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, grain(img, 4))
    dark = grain(np.full((64, 64, 3), 0.02, np.float32), 3)
    assert (a - img).std() > 3 * (dark - 0.02).std()


def test_plate_is_scaled_and_linearised(tmp_path):
    from PIL import Image

    path = tmp_path / "plate.png"
    Image.new("RGB", (200, 100), (188, 188, 188)).save(path)  # sRGB 188 ~ linear 0.5
    plate = load_plate(str(path), 64, 36)
    assert plate.shape == (36, 64, 3)
    assert plate.mean() == pytest.approx(0.5, abs=0.02)


def test_corrupt_plate_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(InputError, match="comp.plate"):
        load_plate(str(path), 64, 36)


def _one_bit_png(path, width, height):
    """A 1-bit greyscale PNG of alternating black and white pixels: a few kB on disk
    and written in a blink, yet width x height pixels to decode."""
    import struct
    import zlib

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = (b"\x00" + b"\xaa" * ((width + 7) // 8)) * height
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_huge_png_plate_is_read_reduced_fast_with_a_warning(tmp_path):
    import time

    from setpiece.errors import SetpieceWarning

    path = tmp_path / "huge.png"
    _one_bit_png(path, 20000, 20000)
    start = time.perf_counter()
    with pytest.warns(SetpieceWarning, match=r"comp\.plate.*20000x20000.*reduced"):
        plate = load_plate(str(path), 64, 36)
    assert time.perf_counter() - start < 20.0  # a full-size float resize took minutes
    assert plate.shape == (36, 64, 3)
    # alternating pixels average to sRGB 0.5, linear ~0.214: box-averaged, not point-sampled
    assert plate.mean() == pytest.approx(0.214, abs=0.01) and plate.std() < 0.01


def test_huge_jpeg_plate_is_decoded_at_reduced_scale(tmp_path):
    from PIL import Image

    from setpiece.errors import SetpieceWarning

    path = tmp_path / "huge.jpg"
    Image.new("L", (12000, 9000), 188).save(path, quality=30)
    with pytest.warns(SetpieceWarning, match=r"read at reduced size 1500x1125"):  # decoded at 1/8 scale
        plate = load_plate(str(path), 64, 36)
    assert plate.shape == (36, 64, 3) and plate.mean() == pytest.approx(0.5, abs=0.02)


def test_small_plate_gives_no_warning(tmp_path):
    import warnings

    from PIL import Image

    path = tmp_path / "plate.jpg"
    Image.new("RGB", (320, 180), (188, 188, 188)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_plate(str(path), 64, 36)


def _plate_files(tmp_path):
    import OpenImageIO as oiio
    from PIL import Image

    img = np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "p.png")
    Image.fromarray(img).save(tmp_path / "p.jpg", quality=90)
    buf = oiio.ImageBuf(oiio.ImageSpec(160, 90, 3, oiio.HALF))
    buf.set_pixels(oiio.ROI(), (img / 255.0).astype(np.float32))
    buf.write(str(tmp_path / "p.exr"))
    return [tmp_path / f"p.{ext}" for ext in ("png", "jpg", "exr")]


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.99])
def test_truncated_plates_are_refused(tmp_path, keep):
    for path in _plate_files(tmp_path):
        data = path.read_bytes()
        cut = tmp_path / f"cut{path.suffix}"
        cut.write_bytes(data[: int(len(data) * keep)])
        load_plate(str(path), 64, 36)  # the whole file reads
        with pytest.raises(InputError, match="comp.plate.*(truncated|cannot read)"):
            load_plate(str(cut), 64, 36)


def test_plate_with_nan_pixels_is_refused(tmp_path):
    import OpenImageIO as oiio

    px = np.full((40, 60, 3), 0.5, np.float32)
    px[10, 20, 1] = np.nan
    buf = oiio.ImageBuf(oiio.ImageSpec(60, 40, 3, oiio.FLOAT))
    buf.set_pixels(oiio.ROI(), px)
    buf.write(str(tmp_path / "nan.exr"))
    with pytest.raises(InputError, match="comp.plate.*NaN"):
        load_plate(str(tmp_path / "nan.exr"), 32, 16)


def test_linear_exr_plate_is_not_linearised_again(tmp_path):
    import OpenImageIO as oiio

    buf = oiio.ImageBuf(oiio.ImageSpec(60, 40, 3, oiio.HALF))
    buf.set_pixels(oiio.ROI(), np.full((40, 60, 3), 0.5, np.float32))
    buf.write(str(tmp_path / "grey.exr"))
    assert load_plate(str(tmp_path / "grey.exr"), 32, 16).mean() == pytest.approx(0.5, abs=1e-3)


def test_holdout_blends_building_and_plate_by_coverage_at_edges():
    spec = small_spec(comp={"grain": 0.0, "motion_blur": 0.0, "shadow_strength": 0.8})
    p = _passes()
    p.alpha[8:16, 20] = 0.5  # an anti-aliased edge column: half building, half plate
    p.beauty[8:16, 20] = 0.2  # premultiplied: 0.4 at half coverage
    p.matte[8:16, 20] = 0.5
    plate = np.full((24, 32, 3), 0.5, np.float32)
    out = comp_frame(spec, p, 0, plate=plate).linear
    assert out[10, 20] == pytest.approx(0.5 * 0.4 + 0.5 * 0.5)
    assert out[10, 25] == pytest.approx(0.5)  # no building: plate as shot
    no_shadow = comp_frame(small_spec(comp={"grain": 0.0, "motion_blur": 0.0, "shadow_strength": 0.0}), p, 0, plate)
    assert no_shadow.linear[20, 15] == pytest.approx(0.5)  # strength 0: the catcher leaves the plate alone


def test_plate_with_undecodable_header_text_is_refused(tmp_path):
    import OpenImageIO as oiio

    buf = oiio.ImageBuf(oiio.ImageSpec(48, 32, 3, oiio.HALF))
    buf.write(str(tmp_path / "p.exr"))
    data = bytearray((tmp_path / "p.exr").read_bytes())
    data[15] = 0x80  # inside the first attribute's name: OIIO's error text is no longer UTF-8
    (tmp_path / "bad.exr").write_bytes(bytes(data))
    with pytest.raises(InputError, match="comp.plate"):
        load_plate(str(tmp_path / "bad.exr"), 40, 24)


def test_cg_ground_is_replaced_by_the_plate_not_laid_over_it():
    # as the renderer draws it: the ground is covered (alpha 1) but is no object (matte 0)
    spec = small_spec(comp={"grain": 0.0, "motion_blur": 0.0, "shadow_strength": 0.8})
    p = _passes()
    p.alpha[16:] = 1.0
    p.beauty[16:] = 0.3  # the CG ground's own colour must not show
    plate = np.full((24, 32, 3), 0.5, np.float32)
    out = comp_frame(spec, p, 0, plate=plate).linear
    assert out[20, 2] == pytest.approx(0.5)  # lit ground: the plate alone
    assert out[20, 15] == pytest.approx(0.1)  # shadowed ground: darkened plate alone
    assert out[10, 15] == pytest.approx(0.4)


def test_plate_of_extreme_aspect_is_cropped_before_it_is_scaled(tmp_path):
    from PIL import Image

    path = tmp_path / "strip.png"
    Image.new("RGB", (2, 6000), (188, 188, 188)).save(path)  # scaled to cover first, 640 x 1.9 M pixels
    plate = load_plate(str(path), 640, 360)
    assert plate.shape == (360, 640, 3) and plate.mean() == pytest.approx(0.5, abs=0.02)


def test_plate_is_centre_cropped_to_the_frame_aspect(tmp_path):
    from PIL import Image

    img = np.zeros((100, 300, 3), np.uint8)
    img[:, 100:200] = 255  # white middle third, black sides
    Image.fromarray(img).save(tmp_path / "wide.png")
    plate = load_plate(str(tmp_path / "wide.png"), 50, 50)  # square frame: only the middle third
    assert plate.min() > 0.9


def test_tiled_and_mipmapped_plates_read_like_scanline_ones(tmp_path):
    import OpenImageIO as oiio

    y, x = np.mgrid[0:300, 0:500] / 500.0
    img = np.dstack([x, y, 0.5 + 0.4 * np.sin(6 * x)]).astype(np.float32)  # smooth: filters agree
    for name, tile in (("lines.tif", 0), ("tiles.tif", 64)):
        spec = oiio.ImageSpec(500, 300, 3, oiio.FLOAT)
        spec.tile_width = spec.tile_height = tile
        buf = oiio.ImageBuf(spec)
        buf.set_pixels(oiio.ROI(), img)
        buf.write(str(tmp_path / name))
    oiio.ImageBufAlgo.make_texture(oiio.MakeTxTexture, buf, str(tmp_path / "mip.exr"), oiio.ImageSpec())
    lines = load_plate(str(tmp_path / "lines.tif"), 60, 36)
    assert np.array_equal(load_plate(str(tmp_path / "tiles.tif"), 60, 36), lines)
    # a coarser MIP level is filtered differently, but shows the same picture
    assert np.abs(load_plate(str(tmp_path / "mip.exr"), 60, 36) - lines).mean() < 0.02
