import numpy as np
import pytest

from pixelforge.engines import (
    CancelToken,
    EngineUnavailable,
    GenerationCancelled,
    GenerationRequest,
    load_engine,
)


def test_request_validates_loudly():
    with pytest.raises(ValueError, match="strength"):
        GenerationRequest(prompt="x", width=8, height=8, seed=1, strength=1.5)
    with pytest.raises(ValueError, match="init_image"):
        GenerationRequest(prompt="x", width=8, height=8, seed=1, init_image=np.zeros((8, 8, 3), np.uint8))


def test_image_seed_follows_contract():
    req = GenerationRequest(prompt="x", width=8, height=8, seed=2**32 - 1, num_images=3)
    assert [req.image_seed(i) for i in range(3)] == [2**32 - 1, 0, 1]


def test_cancel_token():
    tok = CancelToken()
    tok.raise_if_cancelled()
    tok.cancel("timeout")
    with pytest.raises(GenerationCancelled, match="timeout"):
        tok.raise_if_cancelled()


def test_unknown_engine_names_the_known_ones():
    from pixelforge.config import Settings

    with pytest.raises(EngineUnavailable, match="known engines: diffusers, tiny"):
        load_engine("nope", Settings())
