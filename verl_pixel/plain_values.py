"""Plain Python values from what crosses verl: OmegaConf containers, numpy arrays and numpy scalars.

Values that went through verl (a DataProto's object arrays, a parquet row read by pandas, a resolved DictConfig)
arrive in these forms; the pure core accepts only plain mappings, lists and scalars. Every adapter converts with
:func:`to_plain` at its boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf


def to_plain(value: Any) -> Any:
    """Turn OmegaConf containers, numpy arrays and numpy scalars into plain Python values, recursively.

    Values that went through verl (a DataProto's object arrays, a parquet row, a resolved DictConfig) arrive in these
    forms; the pure core only accepts plain mappings, lists and scalars.
    """
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, np.ndarray):
        return [to_plain(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value
