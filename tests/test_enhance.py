"""MGN and WOW: agreement with the float64 formulas, no leak of global statistics (locality,
scaling, determinism), and degenerate input (ENHANCE.md section 4)."""

from __future__ import annotations

import enhance_reference as ref
import numpy as np
import pytest
import yaml

from aia_reloaded.enhance import METHODS, enhance, series_parameters
from aia_reloaded.stages import Buffers

pytestmark = pytest.mark.filterwarnings("error")  # no warning on any input

MGN = {"sigmas": [1.25, 2.5, 5, 10, 20, 40], "k": 0.7, "gamma": 3.2, "h": 0.7, "weights": None}
WOW = {"scales": 7, "denoise": [5, 2, 1], "h": 0.99, "gamma": 4.0, "bilateral": False}
SETTINGS = {"mgn": MGN, "wow": WOW}
# small J for WOW wherever its reach (about 3 x 2^J px) must stay short
SHORT = {
    "mgn": MGN,
    "wow": {**WOW, "scales": 4},
    "bilateral": {**WOW, "scales": 3, "bilateral": True},
}


def method_of(case: str) -> str:
    return "wow" if case == "bilateral" else case


def relative_errors(out: np.ndarray, expected: np.ndarray) -> tuple[float, float, float]:
    """RMS, 99.9th percentile and maximum of |out - expected|, over the range R of expected."""
    error = np.abs(out - expected)
    span = expected.max() - expected.min()
    rms = np.sqrt(np.mean(error**2))
    return rms / span, np.percentile(error, 99.9) / span, error.max() / span


@pytest.fixture(scope="module")
def sun512() -> np.ndarray:
    return ref.sun(512)


def test_mgn_exact_gaussians_match_reference():
    image = ref.sun(256)
    settings = {**MGN, "sigmas": [1.25, 2.5, 5]}  # sigma < 6: exact cv2 Gaussians
    fixed = series_parameters(image, "mgn", settings)
    expected = ref.mgn(image, **{**settings, "a0": fixed["a0"], "a1": fixed["a1"]}, epsilon=0)
    rms, _, peak = relative_errors(enhance(image, "mgn", settings, fixed), expected)
    assert rms <= 1e-4
    assert peak <= 1e-3


def test_mgn_pyramid_matches_reference():
    image = ref.sun(1024)
    fixed = series_parameters(image, "mgn", MGN)
    expected = ref.mgn(image, **MGN, a0=fixed["a0"], a1=fixed["a1"], epsilon=fixed["epsilon"])
    rms, p999, _ = relative_errors(enhance(image, "mgn", MGN, fixed), expected)
    assert rms <= 1e-3
    assert p999 <= 1e-2


@pytest.mark.parametrize("bilateral", [False, True])
@pytest.mark.parametrize("h", [0.0, 0.99])
def test_wow_matches_reference(bilateral, h):
    image = ref.sun(512, corners=False)
    settings = {**WOW, "scales": 6, "h": h, "bilateral": bilateral}
    fixed = series_parameters(image, "wow", settings)
    expected = ref.wow(image, 6, WOW["denoise"], h, WOW["gamma"], fixed, bilateral)
    rms, _, _ = relative_errors(enhance(image, "wow", settings, fixed), expected)
    assert rms <= 1e-5


def test_wow_without_denoising_matches_reference():
    image = ref.sun(512, corners=False)
    settings = {**WOW, "scales": 6, "h": 0.0, "denoise": []}
    fixed = series_parameters(image, "wow", settings)
    expected = ref.wow(image, 6, [], 0.0, WOW["gamma"], fixed)
    assert relative_errors(enhance(image, "wow", settings, fixed), expected)[0] <= 1e-5


def with_flare(image: np.ndarray) -> np.ndarray:
    """The image with a disk 5 x its maximum near the top left corner."""
    y, x = np.ogrid[: len(image), : image.shape[1]]
    flared = image.copy()
    flared[(y - 100) ** 2 + (x - 100) ** 2 < 15**2] = 5 * image.max()
    return flared


@pytest.mark.parametrize("case", ["mgn", "wow", "bilateral"])
def test_far_flare_leaves_a_region_untouched(case):
    """Beyond the reach of the kernels (about 280 px for MGN) the output is bitwise the same
    with series-fixed parameters, and not with parameters taken from each frame."""
    image, method, settings = ref.sun(640, seed=3), method_of(case), SHORT[case]
    flared = with_flare(image)
    far = (slice(480, None), slice(480, None))
    fixed = series_parameters(image, method, settings)
    before = enhance(image, method, settings, fixed)[far]
    assert np.array_equal(enhance(flared, method, settings, fixed)[far], before)
    per_frame = series_parameters(flared, method, settings)
    assert not np.array_equal(enhance(flared, method, settings, per_frame)[far], before)


def scaled(fixed: dict, factor: float) -> dict:
    """Parameters in DN/s scaled by factor (all but the dimensionless)."""
    return {key: value * factor for key, value in fixed.items()}


# the bilateral weights go through E[c^2] - E[c]^2 in float32 (as in watroo): more round-off
@pytest.mark.parametrize(("case", "tolerance"), [("mgn", 1e-5), ("wow", 1e-5), ("bilateral", 1e-4)])
def test_scaling_with_parameters_scaled_along_changes_nothing(sun512, case, tolerance):
    method, settings = method_of(case), SHORT[case]
    fixed = series_parameters(sun512, method, settings)
    out = enhance(sun512, method, settings, fixed)
    brighter = enhance(sun512 * np.float32(3.7), method, settings, scaled(fixed, 3.7))
    assert np.abs(brighter - out).max() <= tolerance


def test_mgn_scaling_with_fixed_parameters_changes_only_the_gamma_term(sun512):
    """Without the floor (whose level is absolute), the local terms are scale-free."""
    fixed = {**series_parameters(sun512, "mgn", MGN), "epsilon": 0.0}
    brighter = sun512 * np.float32(3.7)
    change = enhance(brighter, "mgn", MGN, fixed) - enhance(sun512, "mgn", MGN, fixed)
    low, high = fixed["a0"], fixed["a1"]
    before, after = (ref.global_gamma(x, low, high, MGN["gamma"]) for x in (sun512, brighter))
    assert np.abs(change - MGN["h"] * (after - before)).max() <= 1e-6


@pytest.mark.parametrize("case", ["mgn", "wow", "bilateral"])
def test_same_frame_same_output_in_any_order(sun512, case):
    method, settings = method_of(case), SHORT[case]
    other = ref.sun(512, seed=5)
    fixed = series_parameters(sun512, method, settings)
    alone = enhance(sun512, method, settings, fixed).copy()
    buffers = Buffers()
    for frame in (other, sun512, other):
        enhance(frame, method, settings, fixed, buffers)
    assert np.array_equal(enhance(sun512, method, settings, fixed, buffers), alone)


def degenerate_frames(image: np.ndarray) -> dict[str, np.ndarray]:
    strip, below, holes = image.copy(), image - np.float32(50), image.copy()
    strip[:, 200:260] = 0
    holes[np.random.default_rng(0).random(image.shape) < 0.01] = np.nan
    holes[300:310, 300:310] = np.nan
    return {
        "zero": np.zeros_like(image),
        "constant": np.full_like(image, 7),
        "zero strip": strip,
        "below a0": below,
        "NaN": holes,
    }


@pytest.mark.parametrize("case", ["mgn", "wow", "bilateral"])
def test_degenerate_frames_give_finite_output(sun512, case):
    """With the reference's parameters and with each frame's own."""
    method, settings = method_of(case), SHORT[case]
    fixed = series_parameters(sun512, method, settings)
    for name, frame in degenerate_frames(sun512).items():
        for parameters in (fixed, series_parameters(frame, method, settings)):
            assert np.isfinite(enhance(frame, method, settings, parameters)).all(), name
        yaml.safe_dump(parameters)  # plain floats


@pytest.mark.parametrize("case", ["mgn", "wow", "bilateral"])
def test_nan_pixels_are_zero_fill(sun512, case):
    """NaN pixels act as off-field zeros: NaN does not spread."""
    method, settings = method_of(case), SHORT[case]
    fixed = series_parameters(sun512, method, settings)
    holes = degenerate_frames(sun512)["NaN"]
    out = enhance(holes, method, settings, fixed)
    assert np.isfinite(out).all()
    assert np.array_equal(out, enhance(np.nan_to_num(holes), method, settings, fixed))


def test_constant_frame_has_no_local_structure(sun512):
    """The floor keeps round-off of a flat frame from being normalised into structure."""
    fixed = series_parameters(sun512, "mgn", MGN)
    settings = {**MGN, "h": 0.0}
    assert np.abs(enhance(np.full_like(sun512, 7), "mgn", settings, fixed)).max() <= 1e-3


@pytest.mark.parametrize("case", ["mgn", "wow"])
def test_floor_silences_round_off_in_a_zero_strip(case):
    """A wide strip of zeros and round-off (1e-5 DN/s): beyond the kernels' reach of the data,
    |local term| <= 1e-3 with the series' floor, not without it."""
    image = ref.sun(1024, seed=2)
    fixed = series_parameters(image, case, SETTINGS[case])
    strip = (slice(None), slice(312, 712))
    image[strip] = 1e-5 * np.random.default_rng(1).random((1024, 400), np.float32)
    settings = {**SETTINGS[case], "scales": 5, "h": 0.0} if case == "wow" else {**MGN, "h": 0.0}
    centre = (slice(None), slice(462, 562))
    local = enhance(image, case, settings, fixed)[centre]
    assert np.abs(local).max() <= 1e-3
    unfloored = enhance(image, case, settings, {**fixed, "epsilon": 0.0})[centre]
    assert np.abs(unfloored).max() > 1e-2


def test_none_is_the_image(sun512):
    assert "none" in METHODS
    assert series_parameters(sun512, "none", {}) == {}
    assert enhance(sun512, "none", {}, {}) is sun512
