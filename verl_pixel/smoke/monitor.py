"""Peak host and GPU memory of a running stage of ``verl-pixel smoke`` (a process tree), sampled in a thread.

Host: the proportional set size (PSS: shared pages split between the processes that map them) summed over the
stage's process and all its descendants (torchrun ranks; Ray's raylet, workers and TransferQueue actors, which a
local ``ray.init`` starts under the driver), so a library mapped by every process is counted once overall. GPU: the
memory ``nvidia-smi`` reports used on all devices. Both are sampled every ``interval_s``; a peak shorter than that
can be missed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
import threading
from collections.abc import Iterator

import psutil

GIB = 1024**3


@dataclasses.dataclass
class Peaks:
    """Largest samples seen (bytes); ``gpu`` is ``None`` without ``nvidia-smi``."""

    host: int = 0
    gpu: int | None = None


def tree_memory(root: psutil.Process) -> int:
    """PSS (RSS where PSS is unavailable) of ``root`` and its descendants, in bytes."""
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
    return total


def gpu_memory() -> int | None:
    """Bytes used on all GPUs per ``nvidia-smi``, or ``None`` when it is not there."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    return sum(int(line) for line in out.split() if line.strip().isdigit()) * 1024**2


@contextlib.contextmanager
def watch(pid: int, interval_s: float = 1.0, gpu: bool = False) -> Iterator[Peaks]:
    """Sample the memory of process ``pid``'s tree until the block ends; yields the peaks, updated live."""
    peaks = Peaks()
    done = threading.Event()
    root = psutil.Process(pid)

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peaks.host = max(peaks.host, tree_memory(root))
            if gpu:
                used = gpu_memory()
                if used is not None:
                    peaks.gpu = max(peaks.gpu or 0, used)
            done.wait(interval_s)

    thread = threading.Thread(target=sample, name="smoke-memory", daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        done.set()
        thread.join(timeout=30)
