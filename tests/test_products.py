"""Products: each channel in sunpy's AIA colour table, differences, panels, one prep for all."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from snakemake.utils import validate
from test_movies import decode, probe
from workflow_run import (
    REPO,
    digests,
    make_workdir,
    mtimes,
    read_config,
    snakemake,
    write_config,
)

from aia_reloaded import configuration, pairing, stages
from aia_reloaded.products import channel_frame
from aia_reloaded.synthetic import make_series
from aia_reloaded.writing import read_csv, write_jpeg

WAVELENGTHS = (94, 131, 171, 193, 211, 304, 335)
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PRODUCTS = [
    {"name": "composite"},
    {"name": "aia171", "kind": "channel", "channel": 171},
    {"name": "aia304", "kind": "channel", "channel": 304, "levels": {"low": 1, "high": 99.9},
     "gamma": 2.2},
    {"name": "soft", "gamma": [2.2, 2.2, 1.9]},
    {"name": "rd193", "kind": "difference", "channel": 193, "lag_s": 12},
    {"name": "bd193", "kind": "difference", "channel": 193, "mode": "base"},
    {"name": "rdall", "kind": "difference", "channels": "all", "lag_s": 12},
    {"name": "talk", "kind": "panels", "panels": ["aia171", "aia304", "composite", "rd193"],
     "columns": 2, "tile": 128},
]  # fmt: skip
SHOWN = {"rd193": slice(1, None), "rdall": slice(1, None)}  # the frames each product shows:
# the running differences have none 12 s before the first triplet


def sunpy_colours(wavelength: int, values: np.ndarray) -> np.ndarray:
    """sunpy's AIA colormap of values in [0, 1], 8-bit RGB as matplotlib rounds it."""
    from sunpy.visualization.colormaps import cmlist

    return np.round(cmlist[f"sdoaia{wavelength}"](values)[..., :3] * 255)


@pytest.mark.parametrize("wavelength", WAVELENGTHS)
def test_colour_tables_are_sunpys(tmp_path: Path, wavelength: int):
    ramp = np.tile(np.linspace(0, 1, 1024, dtype=np.float32), (64, 1))
    frame = channel_frame(ramp, wavelength, (0.0, 1.0, 1.0))
    expected = sunpy_colours(wavelength, ramp)
    assert np.abs(frame - expected).max() <= 1
    write_jpeg(tmp_path / "ramp.jpg", frame, 95)
    written = cv2.imread(str(tmp_path / "ramp.jpg"))[..., ::-1].astype(int)
    inner = (slice(8, -8), slice(8, -8))  # JPEG's 8 x 8 blocks at the image border
    assert np.abs(written[inner] - expected[inner]).max() <= 4


def test_channel_frame_takes_levels_gamma_and_crop():
    image = np.linspace(10, 110, 100 * 80, dtype=np.float32).reshape(80, 100)
    frame = channel_frame(image, 171, (10.0, 110.0, 2.0), box=[20, 60, 10, 70])
    scaled = ((image[10:70, 20:60] - 10) / 100) ** 0.5
    assert frame.shape == (60, 40, 3)
    assert np.abs(frame - sunpy_colours(171, scaled)).max() <= 1


def _config() -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config |= {"products": PRODUCTS, "input_dir": "demo"}
    validate(config, str(SCHEMA))
    return config


def _specs() -> list[dict]:
    return configuration.products_of(_config())


def test_one_read_and_one_warp_per_file_whatever_the_products(
    small_series: Path, tmp_path: Path, monkeypatch
):
    files, _skipped = pairing.identify(pairing.find_fits(small_series))
    triplets = [(t.name, t.files) for t in pairing.pair(files, [304, 171, 193], 6)[0]]
    specs, prep = _specs(), {"size": 512, "plate_scale": 4.8, "interpolation": "cubic"}
    levels = stages.reference_levels(triplets, None, [304, 171, 193], [25] * 3,
                                     [99.5, 99.99, 99.85], prep, [None] * 3)  # fmt: skip
    found = {None: levels} | {
        spec["name"]: stages.product_levels(triplets, levels, spec, [304, 171, 193], prep)
        for spec in specs[1:]
        if spec["kind"] != "panels"
    }
    first = triplets[0][0]
    specs = [{**s, "base": first} if s["kind"] == "difference" else s for s in specs]
    wanted = [stages.Product(s, found.get(None if s["main"] else s["name"])) for s in specs]
    calls = {"read": 0, "warp": 0}

    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(stages, "read_level1", counted("read", stages.read_level1))
    monkeypatch.setattr(stages, "prep", counted("warp", stages.prep))
    outputs = [
        stages.Output(tmp_path / s["name"] / "b", tmp_path / f"{s['name']}.csv") for s in specs
    ]
    stages.render_batch(triplets, [304, 171, 193], wanted, outputs, prep, 95, threads=2)
    assert calls == {"read": 9, "warp": 9}  # 3 triplets of 3 files, 7 products

    alone = [stages.Output(tmp_path / "alone" / "b", tmp_path / "alone.csv")]
    stages.render_batch(triplets, [304, 171, 193], wanted[:1], alone, prep, 95)
    for name, _files in triplets:
        made = (tmp_path / "composite" / "b" / f"{name}.jpg").read_bytes()
        assert made == (tmp_path / "alone" / "b" / f"{name}.jpg").read_bytes()
    panel = cv2.imread(str(tmp_path / "talk" / "b" / f"{triplets[0][0]}.jpg"))
    assert panel.shape == (256, 256, 3)
    for row in read_csv(tmp_path / "aia171.csv"):
        assert row["frame"].startswith("b/") and row["t_obs"].startswith("2012-08-31T19:45")
    running = [row["frame"] for row in read_csv(tmp_path / "rd193.csv")]
    assert running == [f"b/{name}.jpg" for name, _files in triplets[1:]]
    at_base = cv2.imread(str(tmp_path / "bd193" / "b" / f"{first}.jpg"))
    assert (at_base == 128).all()  # a base difference is mid-grey at its base


def _sun(blob_x: int, flare: bool = False) -> np.ndarray:
    """A prepped channel (DN/s): a flat disk, a blob at (blob_x, 128), maybe a flare far off."""
    y, x = np.mgrid[:256, :256].astype(np.float32)
    image = np.where(np.hypot(x - 127.5, y - 127.5) < 100, 800, 50).astype(np.float32)
    image += 2000 * np.exp(-((x - blob_x) ** 2 + (y - 128) ** 2) / 18)
    if flare:
        image += 20000 * np.exp(-((x - 200) ** 2 + (y - 60) ** 2) / 30)
    return image


def test_running_difference_of_a_moving_blob():
    spec = {"name": "rd", "kind": "difference", "channels": [193], "box": None}
    product = stages.Product(spec, {"channels": {193: {"limit": 500.0}}})
    series = [_sun(60 + 10 * i, flare=i >= 3) for i in range(5)]  # the flare from the 4th on
    grey = {
        i: stages.product_frames({}, [product], "", None, {"rd": ([series[i]], [series[i - 1]])})[
            "rd"
        ][..., 0].astype(int)
        for i in range(1, 5)
    }
    for i, frame in grey.items():
        assert frame[128, 60 + 10 * i] > 240 and frame[128, 50 + 10 * i] < 16  # came, left
        quiet = np.ones(frame.shape, bool)
        quiet[110:147, 35 + 10 * i : 76 + 10 * i] = False  # the blob, then and before
        if i == 3:
            quiet[40:81, 180:221] = False  # the flare, as it appears
        assert (frame[quiet] == 128).all(), i  # exactly mid-grey where nothing changed
    # no flicker: the blob looks the same in the frame where the far-away flare appears
    np.testing.assert_array_equal(grey[3][110:147, 65:106], grey[2][110:147, 55:96])
    base = stages.product_frames({}, [product], "", None, {"rd": ([series[0]], [series[0]])})
    assert (base["rd"] == 128).all()


def test_a_difference_of_all_channels_shows_each_in_its_colour():
    spec = {"name": "rd", "kind": "difference", "channels": [304, 171, 193], "box": None}
    limits = {"channels": {wl: {"limit": 500.0} for wl in (304, 171, 193)}}
    before = [_sun(80)] * 3
    after = [_sun(80), _sun(100), _sun(80)]  # only 171 changes
    made = stages.product_frames({}, [stages.Product(spec, limits)], "", None,
                                 {"rd": (after, before)})["rd"]  # fmt: skip
    assert (made[..., [0, 2]] == 128).all()  # 304 in red and 193 in blue: unchanged
    assert made[128, 100, 1] > 240 and made[128, 80, 1] < 16  # 171 in green: came, left
    assert stages.key_of(spec) == [(304, [255, 0, 0]), (171, [0, 255, 0]), (193, [0, 0, 255])]


def test_the_triplet_subtracted_is_lag_s_before_within_the_tolerance():
    spec = {"mode": "running", "lag_s": 24, "tolerance_s": 6}
    names = ["20120831T194505", "20120831T194517", "20120831T194532", "20120831T194553",
             "20120831T194625"]  # fmt: skip
    found = [stages.subtracted(name, spec, names) for name in names]
    # 24 s before each: none, 12 s off, 3 s off, 3 s off, 8 s off (a gap)
    assert found == [None, None, names[0], names[2], None]
    base = {**spec, "mode": "base", "base": names[3]}
    assert stages.subtracted(names[2], base, names) == names[3]


def test_a_difference_limit_comes_from_the_unenhanced_reference(small_series: Path):
    files, _skipped = pairing.identify(pairing.find_fits(small_series))
    triplets = [(t.name, t.files) for t in pairing.pair(files, [304, 171, 193], 6)[0]]
    prep = {"size": 512, "plate_scale": 4.8, "interpolation": "cubic"}
    mgn = configuration.enhancements(
        {**_config(), "enhance": {**_config()["enhance"], "method": "mgn"}}
    )
    levels = stages.reference_levels(
        triplets, None, [304, 171, 193], [25] * 3, [99.5] * 3, prep, mgn
    )
    spec = {"name": "rd", "kind": "difference", "channels": [193], "low": [25], "high": [99.5],
            "limit": None}  # fmt: skip
    derived = stages.product_levels(triplets, levels, spec, [304, 171, 193], prep)["channels"][193]
    only_193 = [(name, files[2:]) for name, files in triplets]
    plain = stages.reference_levels(only_193, None, [193], [25], [99.5], prep, [None])
    assert derived["low"] == plain["channels"][193]["low"]  # DN/s, not the MGN levels
    assert derived["limit"] == pytest.approx(0.1 * (derived["high"] - derived["low"]))
    given = stages.product_levels(triplets, levels, {**spec, "limit": 300}, [304, 171, 193], prep)
    assert given["channels"][193]["limit"] == 300


def _table_distance(frame: np.ndarray, wavelength: int) -> np.ndarray:
    """Each pixel's distance (RGB, DN) to the nearest colour of the wavelength's table."""
    table = sunpy_colours(wavelength, np.arange(256) / 255)
    pixels = frame.reshape(-1, 1, 3).astype(float)
    return np.sqrt(((pixels - table[None]) ** 2).sum(-1)).min(1)


@pytest.fixture(scope="module")
def products_run(tmp_path_factory) -> Path:
    """The demo on the staged path with the products above and a movie of two of them."""
    movies = [
        {"name": "m171", "product": "aia171", "frame_size": [128, 128], "timestamp": False},
        {"name": "mtalk", "product": "talk"},
    ]
    workdir = make_workdir(
        tmp_path_factory.mktemp("products"), products=PRODUCTS, movies=movies,
        keep_intermediates=True,
    )  # fmt: skip
    snakemake(workdir)
    return workdir


def test_products_frames_and_movies(products_run: Path, tmp_path: Path):
    results = products_run / "results"
    main = read_csv(results / "frames.csv")
    for spec in PRODUCTS[1:]:
        listed = read_csv(results / "products" / spec["name"] / "frames.csv")
        shown = main[SHOWN.get(spec["name"], slice(None))]
        assert [r["t_obs"] for r in listed] == [r["t_obs"] for r in shown]
        for row in listed:
            frame = cv2.imread(str(results / "products" / spec["name"] / "frames" / row["frame"]))
            assert frame.shape == ((256, 256, 3))
            if spec.get("kind") == "channel":
                on_disk = frame[64:192, 64:192, ::-1]  # the disk
                assert np.median(_table_distance(on_disk, spec["channel"])) < 3
    assert probe(results / "movies" / "m171.mp4")["frames"] == len(main)
    assert probe(results / "movies" / "m171.mp4")["size"] == (128, 128)
    assert probe(results / "movies" / "mtalk.mp4")["size"] == (256, 256)

    # the direct path makes the same frames of every product, byte for byte
    direct = make_workdir(tmp_path, products=PRODUCTS, movies=[])
    snakemake(direct)
    made = sorted(p.relative_to(direct) for p in direct.glob("results/products/*/frames/*/*.jpg"))
    assert len(made) == 7 * len(main) - 2
    for path in made:
        assert (direct / path).read_bytes() == (products_run / path).read_bytes(), path


def test_a_change_of_one_product_reruns_only_it_and_its_panels(products_run: Path):
    results = products_run / "results"
    # frames by modification time; movies by content (every movie is joined again, its
    # segments linked to the encodings kept)
    movies = ("movies/*.mp4", "segments/*/*.mp4")
    before = mtimes(results, "**/*.jpg") | digests(results, movies[0]) | digests(results, movies[1])
    config = read_config(products_run)
    config["products"][1]["gamma"] = 1.5  # aia171
    write_config(products_run, config)
    snakemake(products_run)
    after = mtimes(results, "**/*.jpg") | digests(results, movies[0]) | digests(results, movies[1])
    changed = {path for path in before if after[path] != before[path]}
    remade = ("products/aia171/", "products/talk/", "movies/", "segments/")
    assert changed and all(path.startswith(remade) for path in changed), changed
    assert {p for p in before if p.startswith(("products/aia171/", "products/talk/"))} <= changed
    assert not any("m171" not in p and "mtalk" not in p for p in changed if "movies/" in p)


@pytest.mark.parametrize(
    ("products", "message"),
    [
        ([{"name": "c", "gamma": [2, 2, 2]}], "products[0] (c): the first product is the config's"),
        ([PRODUCTS[0], {"name": "a", "kind": "channel", "channel": 211}],
         "products[1] (a): channel 211 is not one of the channels [304, 171, 193]"),
        ([PRODUCTS[0], {"name": "t", "kind": "panels", "panels": ["aia171"]}],
         "products[1] (t): panel aia171 is not a product listed before it (nor panels)"),
        ([PRODUCTS[0], {"name": "d", "kind": "difference", "channel": 94}],
         "products[1] (d): channel 94 is not one of the channels [304, 171, 193]; a difference"),
        ([PRODUCTS[0], {"name": "d", "kind": "difference", "channel": 193, "base": "first"}],
         "products[1].base: 'first' is not allowed; it must match"),

        ([PRODUCTS[0], {"name": "composite", "gamma": [2, 2, 2]}],
         "products[1] (composite): the name composite is also that of products[0]"),
        ([PRODUCTS[0], {"name": "g", "gamma": [2, 2]}],
         "products[1] (g): gamma: [2, 2] has 2 entries for the 3 channels"),
        ([PRODUCTS[0], {"name": "a", "kind": "channel", "channel": 171,
                          "levels": {"low": [1, 1, 1]}}],
         "products[1] (a): levels.low [1, 1, 1] is a list; a channel product takes one"),
    ],
)  # fmt: skip
def test_bad_products_are_one_sentence(tmp_path: Path, products: list, message: str):
    workdir = make_workdir(tmp_path, products=products)
    done = snakemake(workdir, "-n", check=False)
    assert done.returncode != 0 and message in done.stderr + done.stdout, done.stderr[-2000:]


def test_a_movie_of_no_product_is_named(tmp_path: Path):
    workdir = make_workdir(tmp_path, movies=[{"name": "m", "product": "aia94"}])
    done = snakemake(workdir, "-n", check=False)
    expected = "movies (m): product aia94 is not the name of one of the products composite"
    assert done.returncode != 0 and expected in done.stderr + done.stdout


def test_a_base_outside_the_run_is_named(tmp_path: Path):
    base = {"name": "bd", "kind": "difference", "channel": 193, "mode": "base"}
    workdir = make_workdir(tmp_path, products=[PRODUCTS[0], {**base, "base": "20000101T000000"}])
    done = snakemake(workdir, check=False)
    expected = "products (bd): base 20000101T000000 is not a triplet of the run"
    assert done.returncode != 0 and expected in done.stderr + done.stdout


def test_a_difference_of_all_channels_needs_three(tmp_path: Path):
    four = {"channels": [304, 171, 193, 211], "compose": "perceptual", "gamma": [2.2] * 4,
            "levels": {"low": [25] * 4, "high": [99.5] * 4}}  # fmt: skip
    every = {"name": "d", "kind": "difference", "channels": "all"}
    workdir = make_workdir(tmp_path, products=[PRODUCTS[0], every], **four)
    done = snakemake(workdir, "-n", check=False)
    expected = "products[1] (d): channels all differences the 4 channels [304, 171, 193, 211]"
    assert done.returncode != 0 and expected in done.stderr + done.stdout


def test_a_tracked_movie_of_a_cropped_product_follows_the_same_point(tmp_path: Path):
    data = tmp_path / "data"
    make_series(data, 3, size=256, seed=4, noise=False, cadence_s=7200)  # 4 hours
    products = [
        {"name": "composite"},
        {"name": "aia171", "kind": "channel", "channel": 171},
        {"name": "aia171_crop", "kind": "channel", "channel": 171, "crop": [32, 224, 48, 240]},
    ]
    box = {"timestamp": False, "colour_key": False, "contrast": 1, "track": {"at": None}}
    movies = [
        {"name": "whole", "product": "aia171", "crop": [64, 64, 96, 80], **box},
        {"name": "cropped", "product": "aia171_crop", "crop": [64, 64, 64, 32], **box},
    ]
    workdir = make_workdir(tmp_path / "run", input_dir=str(data), products=products,
                           movies=movies)  # fmt: skip
    snakemake(workdir)
    whole, cropped = (decode(workdir / "results" / "movies" / f"{m['name']}.mp4") for m in movies)
    assert len(whole) == len(cropped) == 3
    assert np.abs(whole.astype(int) - cropped).max() <= 2  # the same pixels of the Sun
