"""verl-pixel: adaptive pixel-space reasoning (zoom-in, frame selection) for vision-language models, as a verl plugin.

Importing this package is cheap and does not import verl; registration into verl happens in
:mod:`verl_pixel.plugin`, which verl loads through the ``verl.plugins`` entry point.
"""

__version__ = "0.1.0"
