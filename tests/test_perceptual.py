"""The perceptual front end meets PERCEPTUAL.md section 5 (T1-T11) and keeps its promises."""

from __future__ import annotations

import json

import numpy as np
import perceptual_reference as reference
import pytest

from aia_reloaded import perceptual
from aia_reloaded.colour import scale_channel
from aia_reloaded.stages import Buffers

DEFAULT = [304, 171, 193]
ALL = [304, 171, 193, 211, 335, 94, 131]
LOOK_KEYS = ("hues", "lightness", "chroma", "blend", "ratio")


def look(wavelengths=DEFAULT, **settings) -> dict:
    return perceptual.perceptual_look(wavelengths, settings)


def channels(n: int, shape=(48, 40), seed=0) -> list[np.ndarray]:
    """Scaled channels: half uniform noise, half smooth and correlated, as the Sun's are."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]] / max(shape)
    common = 0.5 + 0.5 * np.sin(7 * x + 3 * y)
    out = []
    for _ in range(n):
        smooth = np.clip(common * rng.uniform(0.6, 1) + 0.2 * np.sin(rng.uniform(5, 20) * y), 0, 1)
        noise = rng.random(shape)
        out.append(np.where(x < 0.5, noise, smooth).astype(np.float32))
    return out


def oklab_of(channel_list, the_look) -> np.ndarray:
    """OKLab of the float output (linear sRGB before the final clip)."""
    return perceptual.linear_to_oklab(perceptual.linear_frame(channel_list, **the_look))


def test_t1_round_trip_all_colours():
    """Every 8-bit sRGB colour to OKLab and back, compared in sRGB [0, 1]."""
    srgb = np.arange(256) / 255
    lut = reference.srgb_to_linear(srgb)
    worst = 0.0
    for red in range(0, 256, 32):
        rgb = np.stack(np.broadcast_arrays(lut[red : red + 32, None, None], lut[:, None], lut), -1)
        back = perceptual.oklab_to_linear(perceptual.linear_to_oklab(rgb))
        encoded = np.stack(
            np.broadcast_arrays(srgb[red : red + 32, None, None], srgb[:, None], srgb), -1
        )
        worst = max(worst, np.abs(reference.linear_to_srgb(back) - encoded).max())
    assert worst < 1e-5


def test_t2_grey_axis():
    grey = np.linspace(0, 1, 1001)
    lab = perceptual.linear_to_oklab(np.stack([grey] * 3, -1))
    assert np.abs(lab[:, 1:]).max() < 1e-6
    np.testing.assert_allclose(lab[:, 0], np.cbrt(grey), atol=1e-6)


@pytest.mark.parametrize("palette", perceptual.PALETTES)
@pytest.mark.parametrize("wavelengths", [DEFAULT, ALL])
def test_t3_screen_lightness_strictly_increasing(palette, wavelengths):
    """Each channel ramped 0..1 in 101 steps over 200 random backgrounds of the others."""
    the_look = look(wavelengths, palette=palette)
    rng = np.random.default_rng(3)
    ramp = np.linspace(0, 1, 101, dtype=np.float32)
    for i in range(len(wavelengths)):
        background = rng.random((200, len(wavelengths)), dtype=np.float32)
        chans = [np.repeat(background[:, k : k + 1], 101, axis=1) for k in range(len(wavelengths))]
        chans[i] = np.broadcast_to(ramp, (200, 101)).copy()
        lightness = oklab_of(chans, the_look)[..., 0]
        assert np.diff(lightness, axis=1).min() > 0


@pytest.mark.parametrize("blend", perceptual.BLENDS)
@pytest.mark.parametrize("ratio", [False, True])
@pytest.mark.parametrize("wavelengths", [DEFAULT[:2], DEFAULT, ALL])
def test_t4_equal_channels_are_neutral(blend, ratio, wavelengths):
    the_look = look(wavelengths, palette="cvd", blend=blend, ratio=ratio)
    level = np.linspace(0, 1, 256, dtype=np.float32)[None]
    chans = [level] * len(wavelengths)
    lab = oklab_of(chans, the_look)
    assert np.hypot(lab[..., 1], lab[..., 2]).max() < 1e-4
    frame = perceptual.perceptual_frame(chans, **the_look).astype(int)
    assert np.abs(np.diff(frame, axis=-1)).max() <= 1


@pytest.mark.parametrize("palette", perceptual.PALETTES)
def test_t5_t6_channel_alone_has_its_lightness_and_hue(palette):
    """Alone at 1 it is (lightness_i, v_i); alone at any s its hue is h_i."""
    the_look = look(ALL, palette=palette)
    s = np.linspace(0, 1, 65, dtype=np.float32)[1:]
    for i, (hue, light, chroma) in enumerate(
        zip(the_look["hues"], the_look["lightness"], the_look["chroma"], strict=True)
    ):
        chans = [s[None] if k == i else np.zeros((1, len(s)), np.float32) for k in range(7)]
        lab = oklab_of(chans, the_look)[0]
        target = [light, chroma * np.cos(np.radians(hue)), chroma * np.sin(np.radians(hue))]
        assert np.linalg.norm(lab[-1] - target) < 1e-4
        coloured = np.hypot(lab[:, 1], lab[:, 2]) > 0.02
        hues = np.degrees(np.arctan2(lab[coloured, 2], lab[coloured, 1]))
        assert np.abs((hues - hue + 180) % 360 - 180).max() < 0.5


def test_t5_channel_beyond_the_gamut_is_cut_at_its_lightness_and_hue():
    the_look = look(ALL, chroma=1.5)
    limits = reference.max_chroma(the_look["lightness"], the_look["hues"])
    lab = oklab_of([row[None] for row in np.eye(7, dtype=np.float32)], the_look)[0]
    angle = np.radians(the_look["hues"])
    target = np.stack([the_look["lightness"], limits * np.cos(angle), limits * np.sin(angle)], -1)
    assert np.linalg.norm(lab - target, axis=-1).max() < 5e-3


@pytest.mark.parametrize(
    "settings",
    [{}, {"palette": "cvd"}, {"chroma": 1.0}, {"ratio": True}, {"blend": "additive"}],
)
@pytest.mark.parametrize("wavelengths", [DEFAULT, ALL])
def test_t7_in_gamut_before_the_clip(settings, wavelengths):
    rgb = perceptual.linear_frame(channels(len(wavelengths)), **look(wavelengths, **settings))
    assert rgb.min() >= -1e-3 and rgb.max() <= 1 + 1e-3


def test_t7_far_outside_colours_are_cut_into_the_gamut():
    """Chroma 3x the gamut at every hue and lightness: the cut leaves at most 1e-3."""
    hues = np.arange(0, 360, 15.0)
    lightness = np.linspace(0.05, 0.95, 8)
    for light in lightness:
        the_look = look(DEFAULT, chroma=3.0, hues=[0, 0, 0], lightness=[light] * 3)
        for hue in hues:
            the_look["hues"] = [hue] * 3
            rgb = perceptual.linear_frame([np.ones((1, 1), np.float32)] * 3, **the_look)
            assert rgb.min() >= -1e-3 and rgb.max() <= 1 + 1e-3


@pytest.mark.parametrize("palette", perceptual.PALETTES)
def test_t8_single_channel_ramp_is_uniform(palette):
    """Equal steps in OKLab: to 1e-6 in the float64 formulas, 1e-4 in the float32 pipeline."""
    the_look = look(DEFAULT, palette=palette)
    ramp = np.linspace(0, 1, 101)[None]
    zero = np.zeros_like(ramp)
    for i in range(3):
        chans = [ramp if k == i else zero for k in range(3)]
        chans32 = [c.astype(np.float32) for c in chans]
        for lab, tolerance in (
            (reference.oklab(chans, **the_look)[0], 1e-6),
            (oklab_of(chans32, the_look)[0], 1e-4),
        ):
            steps = np.linalg.norm(np.diff(lab, axis=0), axis=-1)
            assert (steps.max() - steps.min()) / steps.mean() < tolerance


def test_t9_max_chroma_and_table_against_bisection():
    lightness = (np.arange(400) + 0.5) / 400
    hue = (np.arange(720) + 0.5) / 2
    hue = hue[(hue < 263.9) | (hue > 264.3)]  # the blue window, where the gamut edge re-enters
    grid_l, grid_h = np.meshgrid(lightness, hue, indexing="ij")
    truth = reference.max_chroma(grid_l, grid_h)
    assert np.abs(perceptual.max_chroma(grid_l, grid_h) - truth).max() < 1e-6
    table = perceptual.table_chroma(
        grid_l.reshape(-1, 1).astype(np.float32), grid_h.reshape(-1, 1).astype(np.float32)
    )
    assert np.abs(table.reshape(truth.shape) - truth).max() < 5e-3


@pytest.mark.parametrize(("wavelengths", "threshold"), [(DEFAULT, (0.15, 15)), (ALL, (0.10, 10))])
def test_t10_cvd_palette_survives_colour_blindness(wavelengths, threshold):
    the_look = look(wavelengths, palette="cvd")
    colours = perceptual.channel_colours(*(the_look[key] for key in LOOK_KEYS))
    for observer, figures in reference.separations(colours).items():
        assert figures[0] >= threshold[0] and figures[1] >= threshold[1], observer


@pytest.mark.parametrize("wavelengths", [[171], DEFAULT, ALL])
@pytest.mark.parametrize("blend", perceptual.BLENDS)
@pytest.mark.parametrize("ratio", [False, True])
@pytest.mark.parametrize("palette", perceptual.PALETTES)
def test_t11_frame_within_1_dn_of_float64_pipeline(wavelengths, blend, ratio, palette):
    the_look = look(wavelengths, palette=palette, blend=blend, ratio=ratio)
    chans = channels(len(wavelengths), seed=len(wavelengths))
    frame = perceptual.perceptual_frame(chans, **the_look)
    assert frame.dtype == np.uint8 and frame.shape == (*chans[0].shape, 3)
    expected = reference.frame(chans, **the_look)
    assert np.abs(frame.astype(int) - expected).max() <= 1


def test_scale_box_and_reused_buffers():
    """scale= is scale_channel on the way, box= a crop; buffers reused across frames."""
    rng = np.random.default_rng(9)
    prepped = [rng.gamma(2, 300, (150, 130)).astype(np.float32) for _ in range(3)]
    scale = [(100.0, 1500.0, 2.8), (50.0, 900.0, 2.4), (200.0, 1200.0, 2.0)]
    scaled = [scale_channel(p, *s) for p, s in zip(prepped, scale, strict=True)]
    the_look = look()
    full = perceptual.perceptual_frame(scaled, **the_look)
    buffers = Buffers()
    for box in (None, [10, 120, 5, 140]):
        x0, x1, y0, y1 = box or (0, 130, 0, 150)
        for _ in range(2):  # the second frame reuses the first one's arrays
            got = perceptual.perceptual_frame(
                prepped, **the_look, box=box, scale=scale, empty=buffers.empty("frame")
            )
            np.testing.assert_array_equal(got, full[y0:y1, x0:x1])


@pytest.mark.parametrize("wavelengths", [[304], ALL])
def test_channel_colours_are_the_frame_pixels(wavelengths):
    n = len(wavelengths)
    the_look = look(wavelengths, palette="cvd")
    chans = channels(n, shape=(70, 30))
    for i in range(n):  # channel i alone at full at pixel (66, i)
        for k, c in enumerate(chans):
            c[66, i] = 1.0 if k == i else 0.0
    frame = perceptual.perceptual_frame(chans, **the_look)
    colours = perceptual.channel_colours(*(the_look[key] for key in LOOK_KEYS))
    assert [tuple(int(v) for v in frame[66, i]) for i in range(n)] == colours


def test_look_from_settings():
    the_look = look([193, 94], hues=[240, 130], lightness=None, chroma=0.5, ratio=True)
    assert json.loads(json.dumps(the_look)) == the_look  # plain values, for Snakemake params
    assert the_look["hues"] == [240.0, 130.0]
    assert the_look["lightness"] == [0.70, 0.70]
    expected = 0.5 * reference.max_chroma([0.7, 0.7], [240, 130])
    np.testing.assert_allclose(the_look["chroma"], expected, atol=1e-6)
    assert the_look["blend"] == "screen" and the_look["ratio"] is True


@pytest.mark.parametrize(
    ("wavelengths", "settings", "message"),
    [
        (DEFAULT, {"palette": "sdo"}, "perceptual.palette 'sdo' is unknown"),
        (DEFAULT, {"hues": [0, 120]}, "perceptual.hues has 2 values for 3 channels"),
        (DEFAULT, {"lightness": [0.5] * 4}, "perceptual.lightness has 4 values for 3 channels"),
        (DEFAULT, {"blend": "multiply"}, "perceptual.blend 'multiply' is unknown"),
        ([304, 1600], {}, "channels: [304, 1600] is not allowed with perceptual colour"),
        ([], {}, "channels: [] is not allowed"),
    ],
)
def test_look_errors_name_the_key(wavelengths, settings, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        perceptual.perceptual_look(wavelengths, settings)


def test_ciede2000_matches_sharma_pairs():
    """Pairs 1, 4, 7 and 17 of Sharma, Wu & Dalal (2005)."""
    first = [(50, 2.6772, -79.7751), (50, -1.3802, -84.2814), (50, 0, 0), (50, 2.5, 0)]
    second = [(50, 0, -82.7485), (50, 0, -82.7485), (50, -1, 2), (73, 25, -18)]
    got = reference.ciede2000(np.array(first), np.array(second))
    np.testing.assert_allclose(got, [2.0425, 1.0000, 2.3669, 27.1492], atol=5e-5)


def test_cvd_matrices():
    """Rows sum to 1 (white stays white); protan and deutan project onto a plane."""
    for observer, matrix in reference.CVD.items():
        np.testing.assert_allclose(matrix.sum(axis=1), 1, atol=2e-6, err_msg=observer)
    for observer in ("protan", "deutan"):
        assert abs(np.linalg.det(reference.CVD[observer])) < 1e-5
    assert reference.CVD["tritan"][1, 2] > 0  # the sign one published copy gets wrong
