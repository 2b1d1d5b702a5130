import struct
import zlib

import cv2
import numpy as np
import pytest

from inspection.xray import imaging
from inspection.xray.imaging import (
    InvalidImage,
    decode_image,
    encode_png,
    from_array,
    image_dimensions,
    image_format,
    overlay_heatmap,
    to_display,
)


def encode(ext: str, pixels: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(ext, pixels)
    assert ok
    return buffer.tobytes()


def gradient_scan(height: int = 90, width: int = 120) -> np.ndarray:
    """A grey 'scan': air margin, a darker bag, a dense bar. Float in [0, 1]."""
    scan = np.ones((height, width), np.float32)
    scan[15:75, 20:100] = 0.7
    scan[40:48, 30:90] = 0.25
    return scan


def png_with_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_format_comes_from_magic_bytes_not_the_name(tmp_path):
    png = encode(".png", np.zeros((4, 4), np.uint8))
    misnamed = tmp_path / "scan.jpg"
    misnamed.write_bytes(png)
    assert image_format(misnamed.read_bytes()) == "png"
    assert image_format(encode(".jpg", np.zeros((8, 8), np.uint8))) == "jpeg"
    assert image_format(encode(".tiff", np.zeros((4, 4), np.uint8))) == "tiff"
    bmp = encode(".bmp", np.zeros((4, 4), np.uint8))
    (tmp_path / "scan.png").write_bytes(bmp)
    for data in (bmp, b"GIF89a" + bytes(20), b"%PDF-1.7", b""):
        with pytest.raises(InvalidImage) as err:
            decode_image(data)
        assert err.value.reason == "unsupported_format"


@pytest.mark.parametrize("ext", [".png", ".tiff", ".jpg"])
def test_header_dimensions_match_the_image(ext):
    data = encode(ext, np.zeros((37, 53, 3), np.uint8))
    assert image_dimensions(data) == (53, 37)


@pytest.mark.parametrize(
    ("ext", "depth", "channels"),
    [
        (".png", 8, 1),
        (".png", 16, 1),
        (".png", 8, 3),
        (".png", 16, 3),
        (".png", 8, 4),
        (".tiff", 8, 1),
        (".tiff", 16, 1),
        (".tiff", 8, 3),
        (".tiff", 16, 3),
        (".jpg", 8, 1),
        (".jpg", 8, 3),
    ],
)
def test_decodes_depths_and_channels_to_the_same_transmission(ext, depth, channels):
    scan = gradient_scan()
    top = 255 if depth == 8 else 65535
    pixels = np.round(scan * top).astype(np.uint8 if depth == 8 else np.uint16)
    if channels == 3:
        pixels = cv2.merge([pixels] * 3)
    elif channels == 4:
        pixels = cv2.merge([pixels] * 3 + [np.full_like(pixels, top)])
    image = decode_image(encode(ext, pixels))
    reference = from_array(np.round(scan * 255).astype(np.uint8))
    assert image.transmission.dtype == np.float32
    assert image.transmission.shape == (imaging.WORKING_SIZE, imaging.WORKING_SIZE)
    assert 0.0 <= image.transmission.min() and image.transmission.max() <= 1.0
    assert (image.width, image.height) == (120, 90)
    assert image.colour is None  # equal channels are a grey scan
    tolerance = 0.03 if ext == ".jpg" else 0.005
    assert np.abs(image.transmission - reference.transmission).mean() < tolerance


def test_twelve_bit_scan_in_sixteen_bit_container_is_not_dark():
    scan = gradient_scan()
    twelve = np.round(scan * 4095).astype(np.uint16)
    image = decode_image(encode(".png", twelve))
    assert image.bit_depth == 12
    assert np.abs(image.transmission - from_array(scan).transmission).max() < 0.01


def test_pseudo_colour_scan_keeps_its_colour():
    scan = np.full((60, 80, 3), 255, np.uint8)
    scan[10:50, 10:70] = (180, 120, 40)  # metal blue
    image = decode_image(encode(".png", scan))
    assert image.colour is not None
    assert image.colour.shape == (imaging.WORKING_SIZE, imaging.WORKING_SIZE, 3)
    assert image.source_channels == 3


def test_transparent_pixels_are_air():
    scan = np.zeros((40, 40, 4), np.uint8)
    scan[:, :, 3] = 0
    image = from_array(scan)
    assert image.transmission.min() > 0.99


def test_refuses_too_many_pixels_before_decoding(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("decoder must not run")

    monkeypatch.setattr(imaging.cv2, "imdecode", forbidden)
    bomb = png_with_header(100_000, 100_000)
    assert image_dimensions(bomb) == (100_000, 100_000)
    with pytest.raises(InvalidImage) as err:
        decode_image(bomb)
    assert err.value.reason == "too_many_pixels"


def test_refuses_jpeg_and_tiff_headers_over_the_limit(monkeypatch):
    jpeg = bytearray(encode(".jpg", np.zeros((16, 16), np.uint8)))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 256, 4, 1, 70000) + struct.pack("<HHII", 257, 4, 1, 70000) + b"\x00" * 4
    monkeypatch.setattr(imaging.cv2, "imdecode", lambda *a, **k: pytest.fail("decoded"))
    for data in (bytes(jpeg), tiff):
        with pytest.raises(InvalidImage) as err:
            decode_image(data, max_pixels=10_000_000)
        assert err.value.reason == "too_many_pixels"


def test_refuses_files_over_the_byte_limit():
    data = encode(".png", np.zeros((64, 64), np.uint8))
    with pytest.raises(InvalidImage) as err:
        decode_image(data, max_bytes=len(data) - 1)
    assert err.value.reason == "too_large"


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tiff"])
def test_truncated_or_garbled_images_are_corrupt(ext):
    data = encode(ext, np.zeros((64, 64), np.uint8))
    for broken in (data[:12], data[:40] + bytes(200)):
        with pytest.raises(InvalidImage) as err:
            decode_image(broken)
        assert err.value.reason == "corrupt_image"


def test_png_without_ihdr_is_corrupt():
    with pytest.raises(InvalidImage) as err:
        decode_image(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIDAT" + bytes(30))
    assert err.value.reason == "corrupt_image"


def test_air_margins_and_aspect_do_not_change_the_canvas():
    scan = gradient_scan()
    padded = np.ones((300, 500), np.float32)
    padded[100:190, 200:320] = scan
    a, b = from_array(scan), from_array(padded)
    assert np.abs(a.transmission - b.transmission).mean() < 0.01


def test_canvas_maps_back_to_the_scan_size():
    image = from_array(gradient_scan(90, 200))
    back = image.to_original(np.ones((32, 32), np.float32))
    assert back.shape == (90, 200)
    mask = np.zeros((90, 200), np.float32)
    mask[40:48, 30:90] = 1
    assert image.to_canvas(mask).shape == (imaging.WORKING_SIZE, imaging.WORKING_SIZE)


def test_overlay_and_png_for_people():
    pixels = np.round(gradient_scan() * 65535).astype(np.uint16)
    display = to_display(pixels)
    assert display.dtype == np.uint8 and display.shape == (90, 120, 3)
    heat = np.zeros((90, 120), np.uint8)
    heat[40:48, 30:90] = 255
    blended = overlay_heatmap(display, heat)
    assert blended.shape == (90, 120, 3)
    assert np.array_equal(blended[0, 0], display[0, 0])  # cold pixels untouched
    assert not np.array_equal(blended[44, 60], display[44, 60])
    decoded = cv2.imdecode(np.frombuffer(encode_png(heat), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (90, 120) and decoded.dtype == np.uint8


def _tiff(*entries: tuple[int, int, int, int], order: str = "<") -> bytes:
    """A tiny classic TIFF whose first directory holds ``entries`` (tag, type, count, value) and nothing else."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    body = magic + struct.pack(order + "I", 8) + struct.pack(order + "H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack(order + "HH", value, 0) if kind == 3 else struct.pack(order + "I", value)
        body += struct.pack(order + "HHI", tag, kind, count) + packed
    return body + b"\x00" * 4


@pytest.mark.parametrize("order", ["<", ">"])
def test_tiff_with_two_widths_is_refused_before_decoding(monkeypatch, order):
    """libtiff decodes the first ImageWidth; a check that read the last (10) would let 20000×10000 through."""
    monkeypatch.setattr(imaging.cv2, "imdecode", lambda *a, **k: pytest.fail("decoded"))
    ambiguous = _tiff((256, 4, 1, 20000), (256, 4, 1, 10), (257, 4, 1, 10000), order=order)
    with pytest.raises(InvalidImage) as err:
        image_dimensions(ambiguous)
    assert err.value.reason == "corrupt_image" and "twice" in err.value.message
    with pytest.raises(InvalidImage) as err:
        decode_image(ambiguous)
    assert err.value.reason == "corrupt_image" and err.value.code == "corrupt_image.image"
    twice_height = _tiff((256, 3, 1, 10), (257, 3, 1, 10), (257, 4, 1, 60000), order=order)
    with pytest.raises(InvalidImage):
        decode_image(twice_height)


def test_tiff_size_tags_must_be_single_values(monkeypatch):
    monkeypatch.setattr(imaging.cv2, "imdecode", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(InvalidImage) as err:
        decode_image(_tiff((256, 3, 2, 10), (257, 3, 1, 10)))
    assert err.value.reason == "corrupt_image"


def test_a_plain_tiff_still_decodes_and_its_header_size_is_read():
    scan = np.full((30, 50), 200, np.uint16)
    data = encode(".tiff", scan)
    assert image_dimensions(data) == (50, 30)
    assert decode_image(data).width == 50
    assert image_dimensions(_tiff((256, 4, 1, 20000), (257, 4, 1, 10))) == (20000, 10)


def test_invalid_image_is_a_domain_error_of_the_image_field():
    from models.errors import DomainError

    data = encode(".png", np.zeros((64, 64), np.uint8))
    with pytest.raises(DomainError) as err:
        decode_image(data, max_bytes=len(data) - 1)
    assert err.value.code == "too_large.image" and err.value.field == "image"
    assert err.value.params == {"max_mib": 0, "max_pixels": imaging.DEFAULT_MAX_PIXELS}
