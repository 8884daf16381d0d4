"""A tiny multi-turn image SFT parquet (zoom-in conversations) for smoke runs of verl's SFT trainer.

Each row: user(image + question) → assistant(crop call) → tool(cropped image) → assistant(boxed answer).
Images are small procedurally drawn scenes, so the file is a few kB and needs no download.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw

_COLORS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40)}

CROP_TOOL_SCHEMA = {
    "type": "function",
    "function": {
        "name": "crop_image",
        "description": "Crop a region of an image and return it zoomed in.",
        "parameters": {
            "type": "object",
            "properties": {
                "bbox_2d": {"type": "array", "items": {"type": "number"}, "description": "[x1, y1, x2, y2]"},
                "target_image": {"type": "integer", "description": "1-based image index"},
            },
            "required": ["bbox_2d"],
        },
    },
}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _row(rng: random.Random, size: int) -> dict:
    color = rng.choice(sorted(_COLORS))
    img = Image.new("RGB", (size, size), (245, 245, 245))
    x, y = rng.randint(0, size - 24), rng.randint(0, size - 24)
    ImageDraw.Draw(img).rectangle([x, y, x + 12, y + 12], fill=_COLORS[color])
    box = [max(0, x - 8), max(0, y - 8), min(size, x + 20), min(size, y + 20)]
    crop = img.crop(tuple(box)).resize((56, 56))
    call = {"type": "function", "function": {"name": "crop_image", "arguments": json.dumps({"bbox_2d": box})}}
    messages = [
        {"role": "user", "content": "<image>What color is the small square?", "tool_calls": None},
        {"role": "assistant", "content": "Let me zoom in on the square.", "tool_calls": [call]},
        {"role": "tool", "content": "<image>", "tool_calls": None},
        {"role": "assistant", "content": f"The square is \\boxed{{{color}}}.", "tool_calls": None},
    ]
    return {"messages": messages, "images": [{"bytes": _png(img)}, {"bytes": _png(crop)}], "tools": [CROP_TOOL_SCHEMA]}


def write_sft_sample(path: str | Path, n_rows: int = 8, image_size: int = 112, seed: int = 0) -> Path:
    """Write ``n_rows`` zoom-in conversations to a parquet file in verl's multi-turn SFT schema.

    Args:
        path: destination ``.parquet`` file (parent folders are created).
        n_rows: number of conversations.
        image_size: side of the square input images, in pixels.
        seed: RNG seed (the file is reproducible).

    Returns:
        The path written.
    """
    rng = random.Random(seed)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([_row(rng, image_size) for _ in range(n_rows)]).to_parquet(out)
    return out
