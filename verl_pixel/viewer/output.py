"""Writing a viewer folder: one PNG per numbered image (boxes drawn) and ``index.html`` next to them."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from verl_pixel.viewer.drawing import draw_boxes
from verl_pixel.viewer.html_page import render_page
from verl_pixel.viewer.model import TrajectoryView

logger = logging.getLogger(__name__)

INDEX_FILE = "index.html"


def write_views(
    views: Sequence[TrajectoryView],
    out_dir: str | os.PathLike,
    title: str = "verl-pixel trajectories",
    source: str = "",
) -> Path:
    """Write ``out_dir/<name>_image<k>.png`` for every image of every view, then ``out_dir/index.html``.

    Args:
        views: the trajectories.
        out_dir: destination folder (created; files of the same names are overwritten).
        title: page title.
        source: what was rendered, shown in the page header.

    Returns:
        The path of ``index.html``.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for view in views:
        for image in view.images:
            draw_boxes(image.image, image.boxes).save(folder / view.image_file(image.number), format="PNG")
    index = folder / INDEX_FILE
    index.write_text(render_page(views, title, source), encoding="utf-8")
    logger.info("wrote %d trajectories to %s", len(views), index)
    return index
