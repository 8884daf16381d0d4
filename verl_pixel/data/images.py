"""Decode the image references found in verl parquet rows, without qwen_vl_utils (which needs torchvision).

A reference is what verl datasets store per image: a PIL image, ``{"bytes": ...}`` (the HF ``datasets`` Image
feature), ``{"path": ...}`` / ``{"image": ...}``, or a plain path string (``file://`` allowed). Resizing is left to
the model's processor, which applies the same ``smart_resize`` rule qwen_vl_utils would.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

from PIL import Image, UnidentifiedImageError


class ImageDecodeError(ValueError):
    """An image reference could not be decoded; the message says which reference and why."""


def load_image(ref: Any) -> Image.Image:
    """Decode one image reference to an RGB PIL image.

    Args:
        ref: a PIL image, a mapping with ``bytes``/``path``/``image``, or a path string.

    Returns:
        The image converted to RGB (the pixels are read eagerly, so the file may be closed afterwards).

    Raises:
        ImageDecodeError: missing file, corrupt bytes, or an unsupported reference type.
    """
    if isinstance(ref, Image.Image):
        return ref.convert("RGB")
    if isinstance(ref, Mapping):
        if ref.get("bytes") is not None:
            return _open(io.BytesIO(ref["bytes"]), "image bytes")
        for key in ("path", "image"):
            if ref.get(key) is not None:
                return load_image(ref[key])
        raise ImageDecodeError(f"image reference has none of 'bytes', 'path', 'image' (keys: {sorted(ref)})")
    if isinstance(ref, (str, os.PathLike)):
        path = os.fspath(ref)
        path = path.removeprefix("file://")
        if not os.path.isfile(path):
            raise ImageDecodeError(f"image file not found: {path}")
        return _open(path, path)
    raise ImageDecodeError(f"unsupported image reference of type {type(ref).__name__}")


def _open(source: Any, label: str) -> Image.Image:
    try:
        with Image.open(source) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ImageDecodeError(f"cannot decode {label}: {err}") from err
