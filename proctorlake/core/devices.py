"""The one place that picks the torch device: a GPU when present, otherwise the CPU.

Every room that runs torch code asks here, so a deployment moves work onto (or off) a GPU
with one setting, ``PROCTORLAKE_TORCH_DEVICE`` (``cuda``, ``cuda:1``, ``cpu``; empty = auto).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from proctorlake.core.settings import load_settings


@lru_cache(maxsize=4)
def _resolve(requested: str) -> torch.device:
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"PROCTORLAKE_TORCH_DEVICE={requested} but torch sees no GPU")
        return device
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def torch_device() -> torch.device:
    """The device for torch work: the configured one, else cuda when available, else cpu."""
    return _resolve(load_settings().torch_device.strip())
