import pixelforge.pixel as px


def test_public_surface_is_stable():
    # Names other layers rely on (docs/dev/CONTRACTS.md) plus the toolkit's own API.
    required = {
        "downscale",
        "harden_alpha",
        "extract_palette",
        "map_to_palette",
        "reduce_colors",
        "detect_grid",
        "recover_native",
        "remove_background",
        "dither",
        "pixelate",
        "make_seamless",
        "seam_score",
        "clean_outline",
        "add_outline",
        "rotate",
        "flip",
        "postprocess",
        "palette_from_image",
        "one_bit",
    }
    assert required <= set(px.__all__)
    for name in px.__all__:
        assert hasattr(px, name), name


def test_importing_the_toolkit_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, pixelforge.pixel; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
