"""Seamless tiling by circular padding of convolutions, on the requested axes only.

``torch.nn.Conv2d(padding_mode="circular")`` wraps both axes at once. To tile horizontally only,
each padded convolution is given a forward that pads the width circularly and the height with
zeros (or the other way round), then convolves without padding. The patch is an instance attribute
that shadows ``Conv2d._conv_forward`` and is deleted on exit, so the modules are restored exactly,
even when the pipeline call raises (cancellation, out of memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

_PATCH_MARK = "_pixelforge_seamless"


def _padded_convs(modules: Iterable[nn.Module]) -> list[nn.Conv2d]:
    convs: list[nn.Conv2d] = []
    seen: set[int] = set()
    for root in modules:
        for m in root.modules():
            if (
                isinstance(m, nn.Conv2d)
                and id(m) not in seen
                and m.padding_mode == "zeros"
                and isinstance(m.padding, tuple)
                and any(p > 0 for p in m.padding)
            ):
                seen.add(id(m))
                convs.append(m)
    return convs


def _make_forward(conv: nn.Conv2d, tile_x: bool, tile_y: bool):
    ph, pw = conv.padding

    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = F.pad(x, (pw, pw, 0, 0), mode="circular" if tile_x else "constant")
        x = F.pad(x, (0, 0, ph, ph), mode="circular" if tile_y else "constant")
        return F.conv2d(x, weight, bias, conv.stride, 0, conv.dilation, conv.groups)

    return forward


def is_patched(conv: nn.Conv2d) -> bool:
    return _PATCH_MARK in conv.__dict__


@contextmanager
def seamless(modules: Iterable[nn.Module | None], tile_x: bool, tile_y: bool) -> Iterator[int]:
    """Within the block, padded convs of ``modules`` wrap around on the requested axes.

    Yields how many convolutions were patched (0 when neither axis is requested).
    """
    if not (tile_x or tile_y):
        yield 0
        return
    convs = _padded_convs(m for m in modules if m is not None)
    try:
        for conv in convs:
            conv._conv_forward = _make_forward(conv, tile_x, tile_y)  # type: ignore[method-assign]
            conv.__dict__[_PATCH_MARK] = (tile_x, tile_y)
        yield len(convs)
    finally:
        for conv in convs:
            conv.__dict__.pop("_conv_forward", None)
            conv.__dict__.pop(_PATCH_MARK, None)
