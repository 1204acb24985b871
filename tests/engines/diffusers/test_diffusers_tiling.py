"""Axis-wise circular padding on plain convolutions: exact values and restoration."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelforge.engines.diffusers.tiling import is_patched, seamless


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.SiLU(), nn.Conv2d(3, 2, (3, 5), padding=(1, 2)))


def reference(net: nn.Module, x: torch.Tensor, tile_x: bool, tile_y: bool) -> torch.Tensor:
    for m in net:
        if isinstance(m, nn.Conv2d):
            ph, pw = m.padding
            x = F.pad(x, (pw, pw, 0, 0), mode="circular" if tile_x else "constant")
            x = F.pad(x, (0, 0, ph, ph), mode="circular" if tile_y else "constant")
            x = F.conv2d(x, m.weight, m.bias)
        else:
            x = m(x)
    return x


@pytest.mark.parametrize(("tile_x", "tile_y"), [(True, False), (False, True), (True, True)])
def test_padding_is_circular_on_the_requested_axes_only(tile_x, tile_y):
    net = make_net()
    x = torch.randn(1, 2, 6, 9)
    plain = net(x)
    with torch.no_grad(), seamless([net], tile_x, tile_y) as n:
        assert n == 2
        got = net(x)
    assert torch.allclose(got, reference(net, x, tile_x, tile_y), atol=1e-6)
    # Equivariance: a circular shift of the input along a tiled axis shifts the output the same way.
    axis = 3 if tile_x else 2
    with torch.no_grad(), seamless([net], tile_x, tile_y):
        shifted = net(torch.roll(x, 2, dims=axis))
    assert torch.allclose(shifted, torch.roll(got, 2, dims=axis), atol=1e-5)
    assert torch.allclose(net(x), plain), "restored after the block"


def test_restored_when_the_block_raises_and_unpadded_convs_are_left_alone():
    net = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1),
        nn.Conv2d(1, 1, 1),
        nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"),
    )
    with pytest.raises(RuntimeError, match="stop"), seamless([net, None], True, False) as n:
        assert n == 1, "only zero-padded convs with padding > 0 are touched"
        assert is_patched(net[0]) and not is_patched(net[1]) and not is_patched(net[2])
        raise RuntimeError("stop")
    assert not any("_conv_forward" in m.__dict__ or is_patched(m) for m in net)


def test_no_axes_is_a_no_op():
    net = make_net()
    with seamless([net], False, False) as n:
        assert n == 0 and not is_patched(net[0])
