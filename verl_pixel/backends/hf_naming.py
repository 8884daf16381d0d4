"""Names shared by the ``hf`` backend's replica (which creates servers) and adapters (which look them up)."""

from __future__ import annotations

BACKEND_NAME = "hf"


def server_name(replica_rank: int, role: str = "policy", suffix: str = "") -> str:
    """Ray actor name of a replica's server (one per replica: the backend is single-node).

    The role (``policy``, ``reward``, ``teacher``) keeps a reward-model or teacher replica from taking the name of
    the policy replica of the same rank.
    """
    return f"verl_pixel_hf_{role}_server_{replica_rank}{suffix}"
