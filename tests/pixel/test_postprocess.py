import numpy as np
import pytest

from pixelforge.pixel import postprocess, upscale


def _sprite_on_white():
    img = np.full((16, 16, 4), 255, np.uint8)
    img[4:12, 4:12, :3] = [180, 60, 60]
    img[6, 6, :3] = [20, 20, 20]
    return img


PAL = np.array([[0, 0, 0], [200, 50, 50], [255, 255, 255]], np.uint8)


def test_palette_and_extras():
    img = _sprite_on_white()
    [(final, extras)] = postprocess([img], palette=PAL, want_pre_palette=True)
    allowed = {tuple(c) for c in PAL.tolist()}
    assert {tuple(c) for c in final[final[..., 3] > 0][:, :3].tolist()} <= allowed
    assert np.array_equal(extras["pre_palette"], img)
    assert "non_bg_removed" not in extras


def test_remove_bg_with_palette_and_upscale():
    img = _sprite_on_white()
    [(final, extras)] = postprocess(
        [img], palette=PAL, remove_bg=True, upscale_factor=3, want_pre_palette=True, want_non_bg_removed=True
    )
    assert final.shape == (48, 48, 4)
    assert set(np.unique(final[..., 3]).tolist()) == {0, 255}
    assert final[0, 0, 3] == 0 and final[20, 20, 3] == 255
    # the extras differ from final in exactly one respect
    assert (extras["non_bg_removed"][..., 3] == 255).all()
    assert np.array_equal(extras["pre_palette"][..., 3], final[..., 3])
    assert np.array_equal(extras["pre_palette"][27, 27, :3], [180, 60, 60])


def test_tiling_and_input_untouched_and_errors():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    img[..., 3] = 255
    before = img.copy()
    [(final, _)] = postprocess([img], tile_x=True, tile_y=True)
    assert final.shape == img.shape
    assert np.array_equal(img, before)
    with pytest.raises(ValueError):
        upscale(img, 0)
    with pytest.raises(ValueError):
        postprocess([img], palette=np.zeros((0, 3), np.uint8))
    assert postprocess([]) == []
