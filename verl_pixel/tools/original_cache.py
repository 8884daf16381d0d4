"""Full-resolution originals shared by the trajectories of one worker process: decoded once, lazily, bounded (pure).

With ``crop_source: original`` every trajectory that crops needs its input's stored original. A GRPO group's n
trajectories hold references to the *same* image, but each used to decode its own copy (a 7680x4320 RGB original is
~100 MB, ~18 GB for the 128 concurrent trajectories of an agent-loop worker; reliability_probes.md §4). Here:

* **one handle per distinct original** (:meth:`OriginalCache.handle`): references are keyed by what they point at (a
  file by path, modification time and size; bytes and data URLs by a hash of their content; a PIL image by
  identity), and trajectories asking for the same original get the same :class:`SharedOriginal`. A handle costs the
  reference and the header's size: nothing is decoded when a trajectory starts.
* **decoded on demand, at the resolution a crop needs**: the first crop decodes the pixels; a crop whose region is at
  least twice the crop's output size on each side decodes a JPEG at 1/2, 1/4 or 1/8 scale in the DCT domain
  (:func:`~verl_pixel.data.images.load_image_reduced`), a fraction of the work and memory; the crop is then resized
  to exactly the size a full-resolution cut would get. Concurrent crops of one original wait for one decode.
* **bounded, and released when no trajectory holds it**: decoded pixels sit in one LRU cache per process of at most
  ``max_bytes`` (default :data:`~verl_pixel.constants.ORIGINALS_CACHE_MB`, or the environment variable
  ``VERL_PIXEL_ORIGINALS_CACHE_MB``, which Ray workers inherit); an evicted original is decoded again when a crop
  needs it. When the last trajectory holding a handle ends, the handle and its pixels go.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import math
import os
import threading
import weakref
from collections.abc import Hashable, Mapping
from typing import Any

from PIL import Image

from verl_pixel.constants import ORIGINALS_CACHE_ENV, ORIGINALS_CACHE_MB
from verl_pixel.data.images import DRAFT_FORMATS, REFERENCE_KEYS, image_header, load_image, load_image_reduced

logger = logging.getLogger(__name__)

DRAFT_REDUCTIONS = (8, 4, 2)  # the DCT scales of JPEG decoding, coarsest first


def reference_key(ref: Any) -> Hashable | None:
    """What a reference points at, equal for references to the same original (``None``: cannot tell)."""
    if isinstance(ref, Image.Image):
        return ("object", id(ref))  # the handle keeps the object alive, so the id is not reused meanwhile
    if isinstance(ref, (bytes, bytearray)):
        return ("content", hashlib.blake2b(ref, digest_size=16).digest())
    if isinstance(ref, Mapping):
        inner = next((ref[key] for key in REFERENCE_KEYS if ref.get(key) is not None), None)
        return None if inner is None else reference_key(inner)
    if isinstance(ref, (str, os.PathLike)):
        text = os.fspath(ref)
        if text.startswith("data:"):
            return ("content", hashlib.blake2b(text.encode(), digest_size=16).digest())
        path = text.removeprefix("file://")
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return ("file", os.path.realpath(path), stat.st_mtime_ns, stat.st_size)
    return None


class SharedOriginal:
    """One distinct original: its size from the header, its pixels from the cache (see the module docstring).

    Implements :class:`verl_pixel.ops.registry.LazyOriginal`.
    """

    def __init__(self, cache: OriginalCache, key: Hashable, ref: Any, size: tuple[int, int], draftable: bool):
        self._cache = cache
        self._key = key
        self._ref = ref
        self._size = size
        self._draftable = draftable
        self._decoding = threading.Lock()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the full-resolution original."""
        return self._size

    def image(self) -> Image.Image:
        """The whole original at full resolution (decoded once while it stays in the cache)."""
        return self._pixels(1)

    def cut(self, box: tuple[int, int, int, int], at_least: tuple[int, int]) -> Image.Image:
        """The region ``box`` (original pixels) from the coarsest decode that still has ``at_least`` pixels.

        A reduced decode's cut covers ``box`` rounded outwards to its pixel grid (a few original pixels at most).
        """
        pixels = self._pixels(self._reduction(box, at_least))
        if pixels.size == self._size:
            return pixels.crop(box)
        scale_x, scale_y = self._size[0] / pixels.width, self._size[1] / pixels.height
        left, top, right, bottom = box
        return pixels.crop(
            (
                int(left / scale_x),
                int(top / scale_y),
                min(pixels.width, math.ceil(right / scale_x)),
                min(pixels.height, math.ceil(bottom / scale_y)),
            )
        )

    def _reduction(self, box: tuple[int, int, int, int], at_least: tuple[int, int]) -> int:
        if not self._draftable:
            return 1
        width, height = box[2] - box[0], box[3] - box[1]
        return next((r for r in DRAFT_REDUCTIONS if width // r >= at_least[0] and height // r >= at_least[1]), 1)

    def _pixels(self, reduce: int) -> Image.Image:
        with self._decoding:  # trajectories cropping this original at once share one decode
            cached = self._cache.lookup(self._key, reduce)
            if cached is not None:
                return cached
            image = load_image(self._ref) if reduce == 1 else load_image_reduced(self._ref, reduce)
            self._cache.store(self._key, max(1, round(self._size[0] / image.width)), image)
            return image


class OriginalCache:
    """Handles of the distinct originals in use and their decoded pixels (LRU, at most ``max_bytes``).

    Thread-safe: trajectories crop from worker threads.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"the originals cache needs max_bytes >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._handles: weakref.WeakValueDictionary[Hashable, SharedOriginal] = weakref.WeakValueDictionary()
        self._pixels: collections.OrderedDict[tuple[Hashable, int], Image.Image] = collections.OrderedDict()
        self._held = 0

    @property
    def held_bytes(self) -> int:
        """Bytes of decoded pixels held now."""
        return self._held

    @property
    def live_handles(self) -> int:
        """Distinct originals some trajectory still holds."""
        return len(self._handles)

    def handle(self, ref: Any) -> SharedOriginal:
        """The shared handle of the original ``ref`` points at (created from its header on first use).

        Raises:
            ImageDecodeError: the reference cannot be read (missing file, remote URL, not an image, too large).
        """
        key = reference_key(ref)
        if key is not None:
            with self._lock:
                existing = self._handles.get(key)
            if existing is not None:
                return existing
        size, image_format = image_header(ref)
        key = key if key is not None else ("unshared", object())  # not keyable: cached, but for this holder alone
        handle = SharedOriginal(self, key, ref, size, image_format in DRAFT_FORMATS)
        with self._lock:
            handle = self._handles.setdefault(key, handle)
        weakref.finalize(handle, self._forget, key)
        return handle

    def lookup(self, key: Hashable, reduce: int) -> Image.Image | None:
        """Cached pixels of ``key`` at ``1/reduce`` scale or finer (the coarsest such), marked recently used."""
        with self._lock:
            scales = [r for (k, r) in self._pixels if k == key and r <= reduce]
            if not scales:
                return None
            entry = (key, max(scales))
            self._pixels.move_to_end(entry)
            return self._pixels[entry]

    def store(self, key: Hashable, reduce: int, image: Image.Image) -> None:
        """Cache decoded pixels; older entries are evicted past ``max_bytes`` (an image larger alone is not kept)."""
        size = image.width * image.height * len(image.getbands())
        with self._lock:
            if reduce == 1:  # full resolution serves every scale: drop the coarser copies
                for entry in [entry for entry in self._pixels if entry[0] == key]:
                    self._drop(entry)
            if size > self.max_bytes:
                return
            self._pixels[(key, reduce)] = image
            self._held += size
            while self._held > self.max_bytes:
                self._drop(next(iter(self._pixels)))

    def _forget(self, key: Hashable) -> None:
        with self._lock:
            for entry in [entry for entry in self._pixels if entry[0] == key]:
                self._drop(entry)

    def _drop(self, entry: tuple[Hashable, int]) -> None:
        image = self._pixels.pop(entry)
        self._held -= image.width * image.height * len(image.getbands())


_shared: OriginalCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> OriginalCache:
    """This process's cache (one per agent-loop worker), sized by ``VERL_PIXEL_ORIGINALS_CACHE_MB`` if set.

    Raises:
        ValueError: the environment variable is not a whole number of megabytes >= 0.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            text = os.environ.get(ORIGINALS_CACHE_ENV, "").strip()
            if text and not text.isdigit():
                raise ValueError(f"{ORIGINALS_CACHE_ENV}={text!r}: expected a whole number of megabytes")
            megabytes = int(text) if text else ORIGINALS_CACHE_MB
            _shared = OriginalCache(megabytes * 1024 * 1024)
            logger.info("originals cache: at most %d MB of decoded originals per worker", megabytes)
        return _shared
