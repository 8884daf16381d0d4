"""verl tool adapters over :mod:`verl_pixel.ops` (imports verl; the YAML generator in ``schema_yaml`` does not).

Submodules are imported explicitly (``verl_pixel.tools.pixel_tools``) so that generating the YAML or reading the
session keys does not pull in verl.
"""
