"""Names shared by the ``hf`` backend's replica (which creates servers) and adapters (which look them up)."""

from __future__ import annotations

BACKEND_NAME = "hf"


def server_name(replica_rank: int, suffix: str = "") -> str:
    """Ray actor name of a replica's server (one server per replica: the backend is single-node)."""
    return f"verl_pixel_hf_server_{replica_rank}{suffix}"
