"""A bad configuration is one clear sentence naming the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from workflow_run import REPO, make_workdir, snakemake

from aia_reloaded.configuration import ConfigError, check, check_preview, check_schema, look
from aia_reloaded.perceptual import perceptual_look

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

LEVELS = {"low": [25, 25, 25], "high": [99.5, 99.99, 99.85]}
CASES = {
    "unknown key": ({"colour_mix": 1}, "unknown key colour_mix; allowed keys are batch_minutes"),
    "unknown nested key": (
        {"lab": {"enabled": True, "gamma": 2}},
        "unknown key gamma in lab; allowed keys are enabled, factors, lmin",
    ),
    "wrong type": ({"gamma": [2.8, "x", 2.4]}, "gamma[1]: 'x' is not allowed; it must be of type"),
    "mix not 3 x 3": (
        {"mix": [[1, 0, 0], [0, 1, 0]]},
        "mix: [[1, 0, 0], [0, 1, 0]] is not allowed; it must have exactly 3 entries",
    ),
    "mix row not 3": (
        {"mix": [[1, 0, 0], [0, 1, 0], [0, 1]]},
        "mix[2]: [0, 1] is not allowed; it must have exactly 3 entries",
    ),
    "gamma 0": ({"gamma": [2.8, 0, 2.4]}, "gamma[1]: 0 is not allowed; it must be > 0"),
    "percentile > 100": (
        {"levels": {**LEVELS, "high": [99.5, 101, 99.85]}},
        "levels.high[1]: 101 is not allowed; it must be <= 100",
    ),
    "percentile < 0": (
        {"levels": {**LEVELS, "low": [-1, 25, 25]}},
        "levels.low[0]: -1 is not allowed; it must be >= 0",
    ),
    "low >= high": (
        {"levels": {**LEVELS, "high": [99.5, 25, 99.85]}},
        "levels: channel 2 has low percentile 25 >= high percentile 25",
    ),
    "crop outside": (
        {"crop": [0, 5000, 0, 100]},
        "crop: [0, 5000, 0, 100] is not allowed; [x0, x1, y0, y1] must satisfy 0 <= x0 < x1",
    ),
    "crop zero size": ({"crop": [100, 100, 0, 100]}, "crop: [100, 100, 0, 100] is not allowed"),
    "odd movie size": (
        {"movies": [{"name": "m", "frame_size": [1081, 1080]}]},
        "frame_size [1081, 1080] has an odd size, and yuv420p needs even sizes: use [1080, 1080]",
    ),
    "unknown channel": (
        {"channels": [304, 171, 195]},
        "channels[2]: 195 is not allowed; it must be one of 94, 131",
    ),
    "enhance channels not one per channel": (
        {"enhance": {"method": "mgn", "channels": [True, False]}},
        "enhance.channels: [True, False] has 2 entries for the 3 channels [304, 171, 193]",
    ),
    "unknown enhance method": (
        {"enhance": {"method": "unsharp"}},
        "enhance.method: 'unsharp' is not allowed; it must be one of none, mgn, wow",
    ),
    "mgn weights not one per sigma": (
        {"enhance": {"method": "mgn", "mgn": {"sigmas": [1, 2], "weights": [1]}}},
        "enhance.mgn.weights: [1] has 1 entries for 2 sigmas; give one weight per sigma",
    ),
    "gamma not one per channel": (
        {"gamma": [2.8, 2.8]},
        "gamma: [2.8, 2.8] has 2 entries for the 3 channels [304, 171, 193]; give one per",
    ),
    "levels not one per channel": (
        {"compose": "perceptual", "channels": [94, 131, 171, 193, 211, 304, 335]},
        "levels.low: [25, 25, 25] has 3 entries for the 7 channels [94, 131",
    ),
    "rgb_mix of four channels": (
        {
            "channels": [304, 171, 193, 211],
            "levels": {"low": [25] * 4, "high": [99.9] * 4},
            "gamma": [2.8] * 4,
        },
        "channels: [304, 171, 193, 211] has 4 wavelengths, and compose rgb_mix takes exactly 3",
    ),
    "perceptual hues not one per channel": (
        {"compose": "perceptual", "perceptual": {"hues": [30, 85]}},
        "perceptual.hues: [30, 85] has 2 entries for the 3 channels [304, 171, 193]",
    ),
    "perceptual of a UV channel": (
        {"compose": "perceptual", "channels": [304, 171, 1600]},
        "channels: [304, 171, 1600] is not allowed with perceptual colour; it takes 1 to 7",
    ),
    "channel twice": (
        {"channels": [304, 171, 304]},
        "channels: [304, 171, 304] is not allowed; it",
    ),
    "no input_dir": (
        {"input_dir": "/no/such/folder"},
        "input_dir: '/no/such/folder' is not an existing folder",
    ),
    "input_dir without FITS": ({"input_dir": str(REPO / "config")}, "holds no FITS files"),
    "output_dir not writable": (
        {"output_dir": str(REPO / "README.md" / "results")},
        "results' can't be written to (Not a directory)",
    ),
}


def _looks(*looks: dict, **preview) -> dict:
    """A preview of the look aia_default and `looks`."""
    return {"preview": {"looks": [{"name": "aia_default"}, *looks], **preview}}


SOFT = {"name": "soft", "gamma": [2.2, 2.2, 1.9]}
CASES |= {
    "look unknown key": (
        _looks({"name": "soft", "gama": [2, 2, 2]}),
        "config key preview.looks[1] (soft): unknown key gama; allowed keys are compose, crop, "
        "enhance, gamma, lab, levels, mix, name, perceptual, scalemin, track.",
    ),
    "look unknown nested key": (
        _looks({"name": "soft", "lab": {"enable": False}}),
        "preview.looks[1] (soft): unknown key enable in lab; allowed keys are enabled, factors",
    ),
    "look gamma 0": (
        _looks({**SOFT, "gamma": [2, 0, 2]}),
        "config key preview.looks[1] (soft): gamma[1]: 0 is not allowed; it must be > 0.",
    ),
    "look gamma not one per channel": (
        _looks(SOFT, {"name": "flat", "gamma": [2, 2]}),
        "config key preview.looks[2] (flat): gamma: [2, 2] has 2 entries for the 3 channels "
        "[304, 171, 193]; give one per channel.",
    ),
    "look low >= high": (
        _looks({"name": "dark", "levels": {"high": [99.5, 20, 99.85]}}),
        "preview.looks[1] (dark): levels: channel 2 has low percentile 25 >= high percentile 20",
    ),
    "look crop outside": (
        _looks({"name": "big", "crop": [0, 5000, 0, 100]}),
        "preview.looks[1] (big): crop: [0, 5000, 0, 100] is not allowed; [x0, x1, y0, y1]",
    ),
    "look mgn weights": (
        _looks({"name": "mgn", "enhance": {"method": "mgn", "mgn": {"weights": [1, 1]}}}),
        "preview.looks[1] (mgn): enhance.mgn.weights: [1, 1] has 2 entries for 6 sigmas",
    ),
    "look names repeated": (
        _looks(SOFT, {**SOFT, "gamma": [2, 2, 2]}),
        "config key preview.looks[2] (soft): the name soft is also that of preview.looks[1]; "
        "give each look its own name.",
    ),
    "look name with a space": (
        _looks({"name": "my look"}),
        "config key preview.looks[1].name: 'my look' is not allowed; it must match ^[A-Za-z",
    ),
    "look named sheet": (
        _looks({"name": "sheet"}),
        "config key preview.looks[1] (sheet): the name sheet is not allowed",
    ),
    "look without a name": (_looks({"gamma": [2, 2, 2]}), "preview.looks[1]: 'name' is a required"),
    "preview detail outside": (
        _looks(detail=[0, 100, 4000, 5000]),
        "config key preview.detail: [0, 100, 4000, 5000] is not allowed; [x0, x1, y0, y1] must",
    ),
    "tracked box off the disk": (
        {"movies": [{"name": "ar", "crop": [256, 256, 3800, 1920], "track": {"at": "2012-08-31"}}]},
        'config key movies[0] (ar).track: the box centre, pixel (3927.5, 2047.5) at (1128", 0"), '
        'is off the solar disk (radius 950") at 2012-08-31 00:00:00: a tracked box must be '
        "centred on the disk.",
    ),
    "tracked box at no time": (
        {"movies": [{"name": "ar", "crop": [256, 256, 1800, 1920], "track": {"at": "noon"}}]},
        "config key movies[0] (ar).track.at: 'noon' is not a time; give one such as",
    ),
    "tracked box of panels": (
        {
            "products": [
                {"name": "composite"},
                {"name": "grid", "kind": "panels", "panels": ["composite"]},
            ],
            "movies": [{"name": "ar", "product": "grid", "crop": [256, 256, 0, 0], "track": {}}],
        },
        "config key movies[0] (ar).track: product grid is panels, whose frames are no image",
    ),
    "tracked box without a crop": (
        {"movies": [{"name": "ar", "track": {}}]},
        "movie 'ar': track follows the crop; give the movie a crop.",
    ),
    "unknown rotation model": (
        {"movies": [{"name": "ar", "crop": [256, 256, 0, 0], "track": {"rotation": "rigid"}}]},
        "movies[0].track.rotation: 'rigid' is not allowed; it must be one of howard, snodgrass",
    ),
    "preview unknown key": (
        _looks(sise=512),
        "unknown key sise in preview; allowed keys are detail, looks, size, track.",
    ),
    "tracked frames without a crop": (
        {"track": {}},
        "config key track: it makes crop follow the Sun, and crop is null; give crop",
    ),
    "tracked frames with a movie's reproject": (
        {"crop": [0, 64, 0, 64], "track": {"reproject": True}},
        "unknown key reproject in track; allowed keys are at, rotation.",
    ),
    "tracked product off the disk": (
        {
            "products": [
                {"name": "composite"},
                {
                    "name": "c",
                    "kind": "channel",
                    "channel": 171,
                    "crop": [0, 64, 0, 64],
                    "track": {"at": "2012-08-31"},
                },
            ]
        },
        "config key products (c) track: the box centre, pixel (31.5, 31.5) at (",
    ),
    "tracked preview detail without one": (
        _looks(track={}),
        "config key preview.track: it makes preview.detail follow the Sun, and preview.detail "
        "is null",
    ),
    "tracked look at no time": (
        _looks({"name": "ar", "crop": [0, 64, 0, 64], "track": {"at": "noon"}}),
        "config key preview.looks[1] (ar): track.at: 'noon' is not a time",
    ),
    "tracked movie of tracked frames": (
        {
            "crop": [0, 2048, 0, 2048],
            "track": {},
            "movies": [{"name": "ar", "crop": [256, 256, 0, 0], "track": {}}],
        },
        "config key movies[0] (ar).track: product composite's frames follow the Sun already",
    ),
}


def shipped_config(tmp_path: Path, **changes) -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update({"output_dir": str(tmp_path / "results"), **changes})
    return config


@pytest.mark.parametrize("case", CASES)
def test_bad_config_is_one_clear_sentence(tmp_path: Path, case: str):
    changes, message = CASES[case]
    config = shipped_config(tmp_path, **changes)
    with pytest.raises(ConfigError) as error:
        check_schema(config, SCHEMA)
        validate(config, str(SCHEMA))
        check(config)
        check_preview(config, SCHEMA)
    text = str(error.value)
    assert message in text and "\n" not in text


def test_shipped_config_passes(tmp_path: Path):
    config = shipped_config(tmp_path)
    check_schema(config, SCHEMA)
    validate(config, str(SCHEMA))
    check(config)
    check_preview(config, SCHEMA)
    assert [look["name"] for look in config["preview"]["looks"]] == [
        "aia_default",
        "soft_gamma",
        "no_lab",
        "perceptual",
        "perceptual_cvd",
        "mgn",
        "wow",
    ]


def test_look_is_what_the_frame_functions_take(tmp_path: Path):
    config = shipped_config(tmp_path)
    assert look(config) == {
        "compose": "rgb_mix",
        "matrix": [[1.0, 0.6, -0.3], [0.0, 1.0, 0.1], [0.0, 0.1, 1.0]],
        "scalemin": 20,
        "lab": [1.0, 0.96, 1.04],
        "lmin": 0,
        "box": None,
    }
    config["lab"]["enabled"] = False
    config["crop"] = [0, 2048, 2048, 4096]
    assert look(config)["lab"] is None and look(config)["box"] == [0, 2048, 2048, 4096]
    config.update(compose="perceptual", channels=[94, 335])
    assert look(config) == {
        "compose": "perceptual",
        **perceptual_look([94, 335], config["perceptual"]),
        "box": [0, 2048, 2048, 4096],
    }


@pytest.mark.parametrize("case", ["gamma 0", "no input_dir"])
def test_snakemake_stops_before_running(tmp_path: Path, case: str):
    changes, message = CASES[case]
    workdir = make_workdir(tmp_path, **changes)
    run = snakemake(workdir, check=False)
    assert run.returncode != 0 and message in run.stderr
    assert "Traceback" not in run.stderr
    assert not (workdir / "results" / "frames").exists()


def test_a_bad_look_stops_the_preview_only(tmp_path: Path):
    changes, message = CASES["look unknown key"]
    workdir = make_workdir(tmp_path, **changes)
    preview = snakemake(workdir, "preview", check=False)
    assert preview.returncode != 0 and message in preview.stderr
    assert not (workdir / "results" / "preview").exists()
    planned = snakemake(workdir, "--dry-run")
    assert message in planned.stdout + planned.stderr and "rule demo_data" in planned.stdout


def test_four_channels_run_beside_the_shipped_preview_looks(tmp_path: Path):
    """Changing channels alone never blocks a run: the shipped looks (three-entry gamma)
    stop only `snakemake preview`, with the look's name."""
    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    four = {
        "channels": [304, 171, 193, 211],
        "levels": {"low": [25] * 4, "high": [99.5, 99.99, 99.85, 99.9]},
        "gamma": [2.8, 2.8, 2.4, 2.4],
        "compose": "perceptual",
        "demo": {"triplets": 2, "size": 256, "seed": 0},
        "preview": shipped["preview"],
    }
    workdir = make_workdir(tmp_path, **four)
    snakemake(workdir)
    frames = list((workdir / "results" / "frames").glob("*/*.jpg"))
    assert len(frames) == 2 and not (workdir / "results" / "preview").exists()
    preview = snakemake(workdir, "preview", check=False)
    assert preview.returncode != 0
    assert "preview.looks[1] (soft_gamma): gamma: [2.2, 2.2, 1.9] has 3 entries" in preview.stderr
