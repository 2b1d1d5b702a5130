"""Decoding and normalising X-ray scans.

Uploaded bytes are trusted for nothing: the format is read from the magic bytes (never from a file name),
the pixel dimensions are read from the header and checked against a limit *before* the pixels are decoded
(decompression bombs), and only then does OpenCV decode the image.

Every scan, whatever its bit depth, channel count, size or aspect ratio, is then normalised to an
:class:`XrayImage`: a square float32 transmission map in [0, 1] (1 = air, 0 = nothing gets through) of
``working_size`` pixels a side, holding the scan's content (air margins cropped) resized so its longest
side fits, centred and padded with air. Colour (dual-energy pseudo-colour) scans keep a colour copy of the
same geometry, used for the material cue. The transform back to the scan's own pixels is recorded so heat
maps can be drawn at the scan's own width and height.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from models.errors import DomainError

ImageFormat = Literal["png", "jpeg", "tiff"]
BagSource = np.ndarray | str | Path

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
WORKING_SIZE = 384

# Colour scans whose channels differ by less than this (on a 0-1 scale, mean absolute) are grey scans
# stored as colour and are treated as grey, so the container does not change the score.
_GREY_TOLERANCE = 2.0 / 255.0
# Pixels darker than this (transmission) count as content when cropping air margins.
_CONTENT_LEVEL = 0.93

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# JPEG start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class InvalidImage(DomainError, ValueError):
    """An uploaded image that cannot or must not be decoded: a domain error of the ``image`` field.

    ``reason`` (the API code) is one of ``unsupported_format``, ``too_large``, ``too_many_pixels``,
    ``corrupt_image``; ``code`` is ``<reason>.image`` (a row of the web app's error table); ``message`` says
    what was wrong in English, for logs; ``params`` carry the limits (``max_mib``, ``max_pixels``).
    """

    def __init__(self, reason: str, message: str, **params: object) -> None:
        super().__init__(f"{reason}.image", field="image", **params)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass(frozen=True)
class XrayImage:
    """A scan normalised for analysis.

    ``transmission`` is float32, ``working_size`` × ``working_size``, in [0, 1] with 1 = air.
    ``colour`` is the same geometry as float32 BGR in [0, 1] for pseudo-colour scans, ``None`` for grey.
    ``crop`` is the (x, y, w, h) box of the scan's own pixels that was kept (air margins removed) and
    ``placement`` the (x, y, w, h) box of the working canvas it was resized into.
    """

    transmission: np.ndarray
    colour: np.ndarray | None
    width: int
    height: int
    crop: tuple[int, int, int, int]
    placement: tuple[int, int, int, int]
    bit_depth: int
    source_channels: int
    format: ImageFormat | None = None

    @property
    def working_size(self) -> int:
        """Side of the square working canvas in pixels."""
        return int(self.transmission.shape[0])

    def to_canvas(self, original_map: np.ndarray, *, fill: float = 0.0) -> np.ndarray:
        """Map an array of the scan's own size (height × width, e.g. a threat mask) onto the working canvas.

        Returns float32 ``working_size`` × ``working_size``; the padding gets ``fill``.
        """
        size = self.working_size
        px, py, pw, ph = self.placement
        cx, cy, cw, ch = self.crop
        region = original_map[cy : cy + ch, cx : cx + cw].astype(np.float32)
        interpolation = cv2.INTER_AREA if pw < cw else cv2.INTER_LINEAR
        out = np.full((size, size), fill, dtype=np.float32)
        out[py : py + ph, px : px + pw] = cv2.resize(region, (pw, ph), interpolation=interpolation)
        return out

    def to_original(self, canvas_map: np.ndarray, *, fill: float = 0.0) -> np.ndarray:
        """Map a working-canvas array (any resolution covering the canvas) back onto the scan's own pixels.

        Returns an array of shape (height, width) and the input dtype; pixels outside the kept crop
        (air margins) get ``fill``.
        """
        size = self.working_size
        if canvas_map.shape[:2] != (size, size):
            canvas_map = cv2.resize(canvas_map, (size, size), interpolation=cv2.INTER_LINEAR)
        px, py, pw, ph = self.placement
        cx, cy, cw, ch = self.crop
        region = canvas_map[py : py + ph, px : px + pw]
        region = cv2.resize(region, (cw, ch), interpolation=cv2.INTER_LINEAR)
        out = np.full((self.height, self.width), fill, dtype=canvas_map.dtype)
        out[cy : cy + ch, cx : cx + cw] = region
        return out


def image_format(data: bytes) -> ImageFormat:
    """Return the format of an encoded image from its magic bytes ('png', 'jpeg' or 'tiff').

    Raises :class:`InvalidImage` (``unsupported_format``) for anything else.
    """
    head = bytes(data[:8])
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in _TIFF_MAGICS:
        return "tiff"
    raise InvalidImage("unsupported_format", "only PNG, JPEG and TIFF images are accepted")


def image_dimensions(data: bytes) -> tuple[int, int]:
    """Read (width, height) from the header without decoding the pixels.

    Raises :class:`InvalidImage` (``unsupported_format`` or ``corrupt_image``).
    """
    fmt = image_format(data)
    try:
        if fmt == "png":
            width, height = _png_dimensions(data)
        elif fmt == "jpeg":
            width, height = _jpeg_dimensions(data)
        else:
            width, height = _tiff_dimensions(data)
    except (struct.error, IndexError) as exc:
        raise InvalidImage("corrupt_image", f"truncated {fmt.upper()} header") from exc
    if width <= 0 or height <= 0:
        raise InvalidImage("corrupt_image", f"{fmt.upper()} header gives no image size")
    return width, height


def _png_dimensions(data: bytes) -> tuple[int, int]:
    length, chunk = struct.unpack(">I4s", data[8:16])
    if chunk != b"IHDR" or length < 13:
        raise InvalidImage("corrupt_image", "PNG does not start with an IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_dimensions(data: bytes) -> tuple[int, int]:
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise InvalidImage("corrupt_image", "JPEG marker expected")
        while pos < size and data[pos] == 0xFF:
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # markers without a length
        if marker in (0xD9, 0xDA):
            break  # end of image or start of scan before any frame header
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return width, height
        pos += length
    raise InvalidImage("corrupt_image", "JPEG has no frame header")


def _tiff_dimensions(data: bytes) -> tuple[int, int]:
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    if big:
        (offset,) = struct.unpack(order + "Q", data[8:16])
        (count,) = struct.unpack(order + "Q", data[offset : offset + 8])
        entries, entry_size, first = offset + 8, 20, "HHQ"
    else:
        (offset,) = struct.unpack(order + "I", data[4:8])
        (count,) = struct.unpack(order + "H", data[offset : offset + 2])
        entries, entry_size, first = offset + 2, 12, "HHI"
    value_size = 8 if big else 4
    if count > 65535:
        raise InvalidImage("corrupt_image", "TIFF directory has too many entries")
    found: dict[int, int] = {}
    for i in range(count):
        start = entries + i * entry_size
        tag, kind, n = struct.unpack(order + first, data[start : start + struct.calcsize(first)])
        if tag not in (256, 257):
            continue
        # Decoders disagree on a repeated or multi-valued size tag (libtiff keeps the first, a reader of the
        # last would check another size than the one decoded): such a file is refused, never guessed at.
        if tag in found:
            raise InvalidImage("corrupt_image", "TIFF gives its image size twice")
        if n != 1:
            raise InvalidImage("corrupt_image", "TIFF image size is not a single value")
        raw = data[start + entry_size - value_size : start + entry_size]
        if len(raw) < value_size:
            raise InvalidImage("corrupt_image", "truncated TIFF header")
        if kind == 3:  # SHORT
            (found[tag],) = struct.unpack(order + "H", raw[:2])
        elif kind == 4:  # LONG
            (found[tag],) = struct.unpack(order + "I", raw[:4])
        elif kind == 16 and big:  # LONG8
            (found[tag],) = struct.unpack(order + "Q", raw[:8])
        else:
            raise InvalidImage("corrupt_image", "TIFF image size has an invalid type")
    if 256 not in found or 257 not in found:
        raise InvalidImage("corrupt_image", "TIFF has no image width or length")
    return found[256], found[257]


def decode_pixels(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, ImageFormat]:
    """Check and decode an uploaded image to its raw pixel array (as OpenCV gives it) and its format.

    The size in bytes, the format (magic bytes) and the header's pixel count are checked before decoding.
    Raises :class:`InvalidImage`.
    """
    limits = {"max_mib": max_bytes // 2**20, "max_pixels": max_pixels}
    if len(data) > max_bytes:
        raise InvalidImage("too_large", f"image is {len(data)} bytes, the limit is {max_bytes}", **limits)
    fmt = image_format(data)
    width, height = image_dimensions(data)
    if width * height > max_pixels:
        raise InvalidImage("too_many_pixels", f"image is {width}×{height} pixels, the limit is {max_pixels} pixels",
                           **limits)
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InvalidImage("corrupt_image", f"{fmt.upper()} image could not be decoded") from exc
    if pixels is None or pixels.size == 0:
        raise InvalidImage("corrupt_image", f"{fmt.upper()} image could not be decoded")
    if pixels.shape[0] * pixels.shape[1] > max_pixels:
        raise InvalidImage("too_many_pixels", "decoded image exceeds the pixel limit", **limits)
    return pixels, fmt


def load_bag(source: BagSource) -> np.ndarray:
    """Pixels of a bag scan given as an array or a file path (checked and decoded like an upload)."""
    if isinstance(source, np.ndarray):
        return source
    return decode_pixels(Path(source).read_bytes())[0]


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    working_size: int = WORKING_SIZE,
) -> XrayImage:
    """Decode an uploaded PNG, JPEG or TIFF scan (8/16-bit, grey or colour) into an :class:`XrayImage`.

    Raises :class:`InvalidImage` with code ``unsupported_format``, ``too_large``, ``too_many_pixels`` or
    ``corrupt_image``.
    """
    pixels, fmt = decode_pixels(data, max_bytes=max_bytes, max_pixels=max_pixels)
    return from_array(pixels, working_size=working_size, image_format=fmt)


def to_unit_float(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    """Scale a decoded array to float32 in [0, 1] and return it with its effective bit depth.

    8-bit data is divided by 255. Integer data wider than 8 bits is divided by the full scale of the
    smallest common detector depth (10, 12, 14 or 16 bits) that holds its maximum, so a 12-bit scan stored
    in a 16-bit container is not read as nearly black. Float data is clipped to [0, 1].
    """
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) * np.float32(1.0 / 255.0), 8
    if np.issubdtype(pixels.dtype, np.integer):
        top = int(pixels.max()) if pixels.size else 0
        bits = next((b for b in (8, 10, 12, 14, 16) if top < 2**b), 16)
        if pixels.dtype.itemsize > 2:
            bits = max(bits, int(np.ceil(np.log2(top + 1))) if top > 0 else 8)
        scale = np.float32(1.0 / (2**bits - 1))
        return np.clip(pixels.astype(np.float32) * scale, 0.0, 1.0), bits
    if np.issubdtype(pixels.dtype, np.floating):
        return np.clip(np.nan_to_num(pixels.astype(np.float32), nan=1.0), 0.0, 1.0), 32
    raise InvalidImage("corrupt_image", f"unsupported pixel type {pixels.dtype}")


def _split_channels(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (grey transmission, colour or None) from a unit-float array of 1, 2, 3 or 4 channels."""
    if unit.ndim == 2:
        return unit, None
    channels = unit.shape[2]
    if channels == 1:
        return unit[:, :, 0], None
    if channels in (2, 4):
        # Transparent pixels are air: composite over white.
        alpha = unit[:, :, -1:]
        unit = unit[:, :, :-1] * alpha + (1.0 - alpha)
        if channels == 2:
            return unit[:, :, 0], None
    colour = np.ascontiguousarray(unit[:, :, :3])
    grey = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    return grey, colour


def _content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of the non-air content of a scan, with a small margin."""
    height, width = grey.shape
    step = max(1, max(height, width) // 256)
    small = grey[::step, ::step]
    small = cv2.blur(small, (3, 3))
    content = small < _CONTENT_LEVEL
    rows = np.flatnonzero(content.sum(axis=1) >= max(2, content.shape[1] // 100))
    cols = np.flatnonzero(content.sum(axis=0) >= max(2, content.shape[0] // 100))
    if rows.size == 0 or cols.size == 0:
        return 0, 0, width, height
    y0, y1 = rows[0] * step, min(height, (rows[-1] + 1) * step)
    x0, x1 = cols[0] * step, min(width, (cols[-1] + 1) * step)
    margin = max(2, int(0.02 * max(y1 - y0, x1 - x0)))
    x0, y0 = max(0, x0 - margin), max(0, y0 - margin)
    x1, y1 = min(width, x1 + margin), min(height, y1 + margin)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def from_array(
    pixels: np.ndarray,
    *,
    working_size: int = WORKING_SIZE,
    image_format: ImageFormat | None = None,
) -> XrayImage:
    """Normalise a decoded scan (H×W or H×W×C; uint8, uint16 or float in [0, 1]) to an :class:`XrayImage`.

    Grey scans and colour scans whose channels are equal become grey. Air margins are cropped, the content
    is resized (aspect kept) so its longest side is ``working_size`` and centred on an air canvas.
    Raises :class:`InvalidImage` (``corrupt_image``) for arrays that are not an image.
    """
    if pixels.ndim not in (2, 3) or pixels.shape[0] < 2 or pixels.shape[1] < 2:
        raise InvalidImage("corrupt_image", f"not an image array: shape {pixels.shape}")
    if pixels.ndim == 3 and pixels.shape[2] not in (1, 2, 3, 4):
        raise InvalidImage("corrupt_image", f"unsupported channel count {pixels.shape[2]}")
    source_channels = 1 if pixels.ndim == 2 else int(pixels.shape[2])
    unit, bits = to_unit_float(pixels)
    grey, colour = _split_channels(unit)
    if colour is not None:
        spread = np.abs(colour[::4, ::4] - grey[::4, ::4, None]).mean()
        if spread < _GREY_TOLERANCE:
            colour = None
    height, width = grey.shape
    cx, cy, cw, ch = _content_box(grey)
    scale = working_size / max(cw, ch)
    pw, ph = max(1, round(cw * scale)), max(1, round(ch * scale))
    px, py = (working_size - pw) // 2, (working_size - ph) // 2
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR

    def place(channel_data: np.ndarray) -> np.ndarray:
        shape = (working_size, working_size) + channel_data.shape[2:]
        canvas = np.ones(shape, dtype=np.float32)
        region = channel_data[cy : cy + ch, cx : cx + cw]
        canvas[py : py + ph, px : px + pw] = cv2.resize(region, (pw, ph), interpolation=interpolation)
        return canvas

    transmission = np.clip(place(grey), 0.0, 1.0)
    colour_canvas = np.clip(place(colour), 0.0, 1.0) if colour is not None else None
    return XrayImage(
        transmission=transmission,
        colour=colour_canvas,
        width=int(width),
        height=int(height),
        crop=(cx, cy, cw, ch),
        placement=(px, py, pw, ph),
        bit_depth=bits,
        source_channels=source_channels,
        format=image_format,
    )


def to_display(pixels: np.ndarray) -> np.ndarray:
    """Turn a decoded scan (any depth, 1-4 channels) into 8-bit BGR of the same size, for people to look at."""
    unit, _bits = to_unit_float(pixels)
    grey, colour = _split_channels(unit)
    shown = colour if colour is not None else cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    return np.round(shown * 255.0).astype(np.uint8)


def overlay_heatmap(display: np.ndarray, heatmap: np.ndarray, *, alpha: float = 0.6) -> np.ndarray:
    """Blend a heat map (uint8, brighter = more anomalous) over a scan for people.

    ``display`` is the scan as 8-bit BGR or grey of the heat map's size (see :func:`to_display`). Cold areas
    leave the scan untouched; hot areas are tinted towards red. Returns 8-bit BGR.
    """
    if display.ndim == 2:
        display = cv2.cvtColor(display, cv2.COLOR_GRAY2BGR)
    if display.shape[:2] != heatmap.shape[:2]:
        raise ValueError("heat map and image sizes differ")
    colours = cv2.applyColorMap(heatmap, cv2.COLORMAP_JET).astype(np.float32)
    weight = (alpha * heatmap.astype(np.float32) / 255.0)[:, :, None]
    blended = display.astype(np.float32) * (1.0 - weight) + colours * weight
    return np.round(blended).astype(np.uint8)


def overlay_png(
    data: bytes,
    heatmap: np.ndarray,
    *,
    alpha: float = 0.6,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> bytes:
    """PNG of an uploaded scan with its heat map blended over it, for people (see :func:`overlay_heatmap`).

    Raises :class:`InvalidImage` if the scan cannot be decoded, ``ValueError`` if the sizes differ.
    """
    pixels, _fmt = decode_pixels(data, max_bytes=max_bytes, max_pixels=max_pixels)
    return encode_png(overlay_heatmap(to_display(pixels), heatmap, alpha=alpha))


def encode_png(pixels: np.ndarray) -> bytes:
    """Encode an 8- or 16-bit grey or BGR array as PNG bytes."""
    ok, buffer = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError("array could not be encoded as PNG")
    return buffer.tobytes()
