"""The one decoder of image references: datasets, tools' originals, evaluation and the viewer all use it.

A reference is what verl rows and prompts hold per image: a PIL image; raw bytes; a mapping with ``bytes`` (the HF
``datasets`` Image feature), ``image``, ``image_url`` (OpenAI form, itself ``{"url": ...}``), ``path`` or ``url``;
or a string: a path, a ``file://`` URL or a base64 ``data:image/...`` URL. http(s) URLs are not fetched (an error
says so). Resizing is left to the caller (the processor's ``smart_resize`` rule, :mod:`verl_pixel.ops.resize`).

Two guards:

* **decompression bombs**: an image over ``max_pixels`` (default PIL's own warning limit) is refused from its
  header, before any pixel is decoded;
* **concurrency**: verl hands every rollout of a group the *same* lazily opened PIL image (``RLHFDataset`` puts
  ``Image.open(BytesIO(row_bytes))`` in ``raw_prompt``) and decodes model views in a thread pool, while the tools
  decode originals in worker threads. PIL's lazy loader is not thread-safe (concurrent first decodes gave
  ``image file is truncated`` or wrong pixels), so the first decode of a PIL image runs under a lock striped by
  the object; once loaded, the object is shared, not copied.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from PIL import Image, UnidentifiedImageError

from verl_pixel.constants import MAX_IMAGE_PIXELS
from verl_pixel.ops.resize import resize_to_budget, to_rgb

# Mapping keys holding a reference, in order of preference (bytes first: a ``path`` next to them may be relative).
REFERENCE_KEYS = ("bytes", "image", "image_url", "path", "url")
_DATA_URL_PREFIX = "data:image"
DRAFT_FORMATS = ("JPEG", "MPO")  # formats PIL decodes at a reduced scale (Image.draft)
# Striped rather than per object: no bookkeeping, bounded memory, and distinct images rarely share a stripe.
_LOCK_STRIPES = tuple(threading.Lock() for _ in range(64))


class ImageDecodeError(ValueError):
    """An image reference could not be decoded; the message says which reference and why."""


def load_image(ref: Any, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode one image reference to an RGB PIL image whose pixels are loaded.

    Args:
        ref: any reference form of the module docstring.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).

    Returns:
        The image in RGB (transparent pixels on white, as qwen_vl_utils' ``to_rgb``). A PIL image that already is
        RGB comes back as the same object, decoded once.

    Raises:
        ImageDecodeError: missing file, remote URL, corrupt or oversized image, or an unsupported reference.
    """
    return _read(ref, max_pixels, _decoded)


def image_size(ref: Any, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """``(width, height)`` of one image reference, read from its header without decoding the pixels.

    Raises:
        ImageDecodeError: as :func:`load_image`, for what can be told without decoding.
    """
    return image_header(ref, max_pixels)[0]


def image_header(ref: Any, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[tuple[int, int], str | None]:
    """``((width, height), format)`` of one image reference from its header (format: PIL's, e.g. ``JPEG``).

    Raises:
        ImageDecodeError: as :func:`image_size`.
    """
    return _read(ref, max_pixels, _header)


def load_image_reduced(ref: Any, reduce: int, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode like :func:`load_image`, at about ``1/reduce`` of the size where the format makes that cheaper.

    JPEG decodes at 1/2, 1/4 or 1/8 scale in the DCT domain (PIL's ``draft``): the largest of those whose result is
    at least ``1/reduce`` of each side, with a fraction of the work and memory. Other formats, and a PIL image
    handed in, come back at full size. The caller reads the scale it got from the result's size.

    Raises:
        ImageDecodeError: as :func:`load_image`.
    """
    return _read(ref, max_pixels, lambda image, shared: _drafted(image, shared, reduce))


# What to do with an opened image: (image, shared) -> result; ``shared`` is a PIL object the caller handed in.
_Reader = Callable[[Image.Image, bool], Any]


def _decoded(image: Image.Image, shared: bool) -> Image.Image:
    if shared:
        _decode_once(image)
    else:
        image.load()
    return to_rgb(image)


def _header(image: Image.Image, shared: bool) -> tuple[tuple[int, int], str | None]:
    return image.size, image.format


def _drafted(image: Image.Image, shared: bool, reduce: int) -> Image.Image:
    if not shared and reduce > 1 and image.format in DRAFT_FORMATS:
        width, height = image.size
        image.draft("RGB", (-(-width // reduce), -(-height // reduce)))  # picks a DCT scale >= the requested size
    return _decoded(image, shared)


def _read(ref: Any, max_pixels: int, read: _Reader) -> Any:
    if isinstance(ref, Image.Image):
        _check_size(ref.size, max_pixels, "image")
        return read(ref, True)
    if isinstance(ref, (bytes, bytearray)):
        return _open(io.BytesIO(ref), "image bytes", max_pixels, read)
    if isinstance(ref, Mapping):
        for key in REFERENCE_KEYS:
            if ref.get(key) is not None:
                return _read(ref[key], max_pixels, read)
        raise ImageDecodeError(f"image reference has none of {list(REFERENCE_KEYS)} (keys: {sorted(ref)})")
    if isinstance(ref, (str, os.PathLike)):
        return _read_string(os.fspath(ref), max_pixels, read)
    raise ImageDecodeError(f"unsupported image reference of type {type(ref).__name__}")


def describe_ref(ref: Any) -> str:
    """A short printable form of a reference, for messages (bytes are not dumped)."""
    if isinstance(ref, (bytes, bytearray)):
        return f"<{len(ref)} image bytes>"
    text = repr(ref)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_string(ref: str, max_pixels: int, read: _Reader) -> Any:
    if ref.startswith(("http://", "https://")):
        raise ImageDecodeError(f"remote image {describe_ref(ref)} is not fetched; store it locally or as bytes")
    if ref.startswith(_DATA_URL_PREFIX):
        _, _, payload = ref.partition("base64,")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ImageDecodeError(f"data URL is not valid base64: {err}") from err
        return _open(io.BytesIO(data), "data URL", max_pixels, read)
    path = ref.removeprefix("file://")
    if not os.path.isfile(path):
        raise ImageDecodeError(f"image file not found: {path}")
    return _open(path, path, max_pixels, read)


def _open(source: Any, label: str, max_pixels: int, read: _Reader) -> Any:
    try:
        with Image.open(source) as image:
            _check_size(image.size, max_pixels, label)
            return read(image, False)
    except Image.DecompressionBombError as err:  # PIL's own hard limit, raised at open
        raise ImageDecodeError(f"{label}: {err}") from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:  # SyntaxError: PIL's "not a PNG file" and kin
        raise ImageDecodeError(f"cannot decode {label}: {err}") from err


def _check_size(size: tuple[int, int], max_pixels: int, label: str) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"{label} is {width}x{height} = {width * height} pixels, over the {max_pixels}-pixel limit "
            "(decompression-bomb guard)"
        )


def _decode_once(image: Image.Image) -> None:
    """Load a (possibly lazy) PIL image's pixels; concurrent callers on one object wait for the first decode."""
    with _LOCK_STRIPES[(id(image) >> 4) % len(_LOCK_STRIPES)]:
        try:
            image.load()
        except (OSError, SyntaxError) as err:
            raise ImageDecodeError(f"cannot decode image: {err}") from err


def load_image_at_budget(ref: Any, factor: int, min_pixels: int) -> Image.Image:
    """Decode like :func:`load_image`; a mapping reference carrying ``max_pixels`` is then resized to that budget.

    The resize is the processor's rule (``factor``: patch size x merge size); other references come back as decoded.

    Raises:
        ImageDecodeError: as :func:`load_image`, or for a ``max_pixels`` that is not a positive whole number.
    """
    image = load_image(ref)
    budget = ref.get("max_pixels") if isinstance(ref, Mapping) else None
    if budget is None:
        return image
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < factor * factor:
        raise ImageDecodeError(f"max_pixels must be a whole number >= {factor * factor}, got {budget!r}")
    return resize_to_budget(image, factor=factor, min_pixels=min_pixels, max_pixels=budget)
