"""Trajectory viewer (``verl-pixel view``): SFT rows or verl rollout dumps as an HTML page and PNGs.

Each image is drawn with the crops taken from it (crops of crops mapped back onto the original and onto the parent
crop), numbered as the model numbers images; the conversation shows trained vs masked text; the scores and
``pixel/*`` fields of each trajectory are listed. Layout:

=====================  =============================================================================
module                 role
=====================  =============================================================================
``model.py``           what a trajectory view holds (pure data)
``geometry.py``        replaying the calls with :mod:`verl_pixel.ops`, mapping crops onto ancestors
``spans.py``           trained / masked spans of SFT messages and decoded rollout responses
``fields.py``          score and column values as text rows
``sft_rows.py``        an SFT row -> view
``rollout_dump.py``    verl's rollout dump format, joining records to their RL rows -> views
``drawing.py``         boxes and labels on PIL images, placeholders
``html_page.py``       the page (escaped, self-contained; PNGs referenced as sibling files)
``load.py``            files -> views (rows read by :mod:`verl_pixel.data.parquet_io`); ``output.py``: views ->
                       folder; ``cli.py``: the command
=====================  =============================================================================
"""

from verl_pixel.viewer.load import load_rollout_views, load_sft_views
from verl_pixel.viewer.model import TrajectoryView
from verl_pixel.viewer.output import write_views
from verl_pixel.viewer.rollout_dump import rollout_view
from verl_pixel.viewer.sft_rows import sft_row_view

__all__ = ["TrajectoryView", "load_rollout_views", "load_sft_views", "rollout_view", "sft_row_view", "write_views"]
