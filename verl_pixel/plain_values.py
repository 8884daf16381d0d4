"""Plain Python values from what crosses verl: OmegaConf containers, numpy arrays and numpy scalars.

Values that went through verl (a DataProto's object arrays, a parquet row read by pandas, a resolved DictConfig)
arrive in these forms; the pure core accepts only plain mappings, lists and scalars. Every adapter converts with
:func:`to_plain` at its boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def config_mapping(value: Any, path: str) -> dict[str, Any]:
    """A config section as a plain dict: ``{}`` when absent.

    Raises:
        ValueError: ``"<path>: expected a mapping, got ..."`` when it is something else.
    """
    value = to_plain(value)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a mapping, got {value!r}")
    return dict(value)


def reject_unknown_keys(mapping: Mapping[str, Any], known: Iterable[str], path: str, kind: str = "key") -> None:
    """The one rule for configuration keys: an unknown one is an error naming its full path and the known ones.

    Args:
        mapping: the section as given.
        known: its allowed keys.
        path: where the section sits (``"pixel.rollout"``); empty for a top-level mapping.
        kind: what a key is called in the message (``"key"``, ``"section"``).

    Raises:
        ValueError: ``"<path>.<first unknown>: unknown <kind> (known: a, b, ...)"``.
    """
    allowed = sorted(known)
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ValueError(f"{where}: unknown {kind} (known: {', '.join(allowed)})")
