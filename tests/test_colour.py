"""Levels, scaled channels, mix, stretch and CIELab give what ALGORITHM.md's formulas give."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import reference

from aia_reloaded import colour, perceptual, stages

MIX = [[1.0, 0.6, -0.3], [0.0, 1.0, 0.1], [0.0, 0.1, 1.0]]
LAB = (1.0, 0.96, 1.04)


def test_percentile_levels():
    image = np.arange(1001, dtype=np.float32).reshape(7, 143)[:, :143]
    lo, hi = colour.percentile_levels(image, 25, 99.5)
    assert lo == pytest.approx(250.0) and hi == pytest.approx(995.0)


def test_scale_channel_known_pixels():
    x = np.array([-5.0, 100.0, 150.0, 550.0, 600.0, 1e5], dtype=np.float32)
    got = colour.scale_channel(x, 100.0, 600.0, 2.8)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [0, 0, 0.1 ** (1 / 2.8), 0.9 ** (1 / 2.8), 1, 1], rtol=1e-6)


def test_mix_and_stretch_known_pixel():
    r, g, b = (np.full((1, 1), v, np.float32) for v in (0.5, 0.25, 0.75))
    got = np.clip(colour.mix(r, g, b, colour.stretch_matrix(MIX, 20)), 0, 255)[0, 0]
    # R = 0.5 + 0.6*0.25 - 0.3*0.75 = 0.425; G = 0.325; B = 0.775
    expected = (np.array([0.425, 0.325, 0.775]) * 255 - 20) * 255 / 235
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_stretch_clips():
    """Mixed values below 0 and above 1 clip before the stretch: -0.5 -> 0, 2.0 -> 255."""
    r, g, b = (np.full((1, 1), v, np.float32) for v in (-0.5, 0.05, 2.0))
    identity = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    frame = colour.rgb_frame(r, g, b, identity, 20, None)
    np.testing.assert_array_equal(frame[0, 0], [0, 0, 255])


@pytest.mark.parametrize("lab", [LAB, (1.1, 1.0, 1.0), None])
def test_frame_matches_formulas(lab):
    """Random scaled channels through the whole frame recipe, to 1 DN of the float64 recipe."""
    rng = np.random.default_rng(5)
    r, g, b = (rng.random((64, 64), dtype=np.float32) for _ in range(3))
    got = colour.rgb_frame(r, g, b, MIX, 20, lab, 0.0)
    expected = reference.frame(r, g, b, MIX, 20, lab, 0.0)
    assert got.dtype == np.uint8 and got.shape == (64, 64, 3)
    diff = np.abs(got.astype(int) - expected)
    assert diff.max() <= 1, diff.max()


def test_crop_takes_displayed_box():
    rng = np.random.default_rng(6)
    r, g, b = (rng.random((40, 50), dtype=np.float32) for _ in range(3))
    full = colour.rgb_frame(r, g, b, MIX, 20, LAB, 0.0)
    cropped = colour.rgb_frame(r, g, b, MIX, 20, LAB, 0.0, box=[10, 30, 5, 25])
    assert cropped.shape == (20, 20, 3)
    np.testing.assert_array_equal(cropped, full[5:25, 10:30])


def test_opencv_cielab_is_cie_d65():
    """OpenCV's conversions, which define the look, follow the CIE D65 formulas."""
    rng = np.random.default_rng(7)
    rgb = rng.random((32, 32, 3))
    lab = cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2Lab)
    np.testing.assert_allclose(lab, reference.srgb_to_lab(rgb), atol=0.5)
    lab8 = np.stack([lab[..., 0] * 255 / 100, lab[..., 1] + 128, lab[..., 2] + 128], -1)
    lab8 = np.rint(lab8).astype(np.uint8)
    back = cv2.cvtColor(lab8, cv2.COLOR_Lab2RGB)
    lab = lab8.astype(float)
    decoded = np.stack([lab[..., 0] * 100 / 255, lab[..., 1] - 128, lab[..., 2] - 128], -1)
    np.testing.assert_allclose(back, reference.lab_to_srgb(decoded) * 255, atol=1.5)


def test_key_colours_are_each_channel_alone_in_the_frames():
    # rgb_mix: 304 alone is red, 171 green with some red, 193 blue (the mix's columns)
    rgb_mix = {"compose": "rgb_mix", "matrix": MIX, "scalemin": 20, "lab": LAB, "box": None}
    key = stages.key_colours(rgb_mix, [304, 171, 193])
    assert [wl for wl, _ in key] == [304, 171, 193]
    (r1, g1, b1), (r2, g2, b2), (r3, g3, b3) = (colour for _, colour in key)
    assert r1 > 200 and g1 < 60 and b1 < 60
    assert g2 > 200 and g2 > r2 > b2
    assert b3 > 200 and b3 > g3 and r3 < 60
    # the colour of a frame pixel where 304 alone is at full, the others 0, the frame's
    # range spanning black to white
    image = np.zeros((64, 64), np.float32)
    image[32:, :] = 1
    red = image.copy()
    red[0, 0] = 1
    frame = colour.rgb_frame(
        red, image * (np.arange(64) > 0), image * (np.arange(64) > 0), MIX, 20, LAB
    )
    assert list(frame[0, 0]) == key[0][1]
    # perceptual: the palette's colour of each channel, as the frame shows it
    settings = {"palette": "cvd"}
    look = {"compose": "perceptual", **perceptual.perceptual_look([94, 335], settings), "box": None}
    keywords = {k: v for k, v in look.items() if k not in ("compose", "box")}
    assert [c for _, c in stages.key_colours(look, [94, 335])] == [
        list(c) for c in perceptual.channel_colours(**keywords)
    ]
