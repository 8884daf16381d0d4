"""The ``pixel_agent`` rollout: verl agent loop with visual operations, rollout modes and a per-trajectory record.

Pure parts (:mod:`config`, :mod:`modes`, :mod:`trajectory`) import no verl; :mod:`agent_loop` and
:mod:`tool_parser` are the verl adapters.
"""
