"""The preview of looks, its sheet and histograms, the report's thumbnails, and the report."""

from __future__ import annotations

import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from workflow_run import REPO, make_workdir, mtimes, read_config, snakemake, write_config

from aia_reloaded import configuration, preview, report, stages
from aia_reloaded.colour import crop
from aia_reloaded.writing import write_csv, write_jpeg

SHIPPED = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
DETAIL = [64, 192, 32, 160]  # x0, x1, y0, y1 in the 256 px demo frames
# a look with a crop (256 x 128) and its own gamma
CROPPED = {"name": "cropped", "crop": [0, 256, 64, 192], "gamma": [1.6, 1.6, 1.4]}
REFERENCE = "20120831T194505"  # the first triplet of the demo


def test_merge_nested_dicts_key_by_key_and_replace_the_rest():
    config = {"enhance": {"method": "none", "mgn": {"h": 0.7, "k": 0.7}}, "gamma": [2.8, 2.4]}
    look = {"enhance": {"method": "mgn", "mgn": {"h": 0.9}}, "gamma": [1.4], "crop": None}
    assert configuration.merge(config, look) == {
        "enhance": {"method": "mgn", "mgn": {"h": 0.9, "k": 0.7}},
        "gamma": [1.4],
        "crop": None,
    }
    assert config["enhance"]["mgn"]["h"] == 0.7  # the config itself is unchanged


def test_look_changes_are_the_values_that_differ():
    mgn = next(look for look in SHIPPED["preview"]["looks"] if look["name"] == "mgn")
    assert configuration.look_changes(SHIPPED, mgn) == [
        "enhance.method: mgn",
        "enhance.mgn.h: 0.9",
        "levels.low: [10, 10, 10]",
        "levels.high: [99.95, 99.95, 99.95]",
        "gamma: [1.4, 1.4, 1.4]",
    ]
    same = {"name": "same", "gamma": SHIPPED["gamma"], "lab": {"enabled": False}}
    assert configuration.look_changes(SHIPPED, same) == ["lab.enabled: false"]


def _prepped(size: int = 96, seed: int = 0) -> list[np.ndarray]:
    """Three channels of a noisy disk, in DN/s."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    disk = np.hypot(x - size / 2, y - size / 2) < size / 3
    return [
        (100 * disk + rng.gamma(2, 5 * (i + 1), (size, size))).astype(np.float32) for i in range(3)
    ]


def _settings(config: dict) -> dict:
    """The params of a look as the workflow gives them (common.smk, look_settings)."""
    return {
        "low": config["levels"]["low"],
        "high": config["levels"]["high"],
        "gamma": config["gamma"],
        "enhancements": configuration.enhancements(config),
        "look": configuration.look(config),
    }


@pytest.mark.parametrize("name", ["aia_default", "no_lab", "perceptual_cvd", "mgn"])
def test_a_looks_detail_is_the_frame_rendered_in_that_box(name: str):
    """Full resolution: the detail is what a series cropped to the box would show."""
    look = next(look for look in SHIPPED["preview"]["looks"] if look["name"] == name)
    config = configuration.merge(SHIPPED, {**look, "crop": [8, 88, 16, 80]})
    settings = _settings(config)
    prepped = _prepped()
    levels, frame = preview.render_look("t", [c.copy() for c in prepped], [304, 171, 193], settings)
    detail = [20, 60, 30, 94]
    sun, detail_image = preview.look_images(frame, settings["look"]["box"], detail, 40)
    assert sun.shape == (32, 40, 3)  # the 80 x 64 crop, downsized to 40 px
    assert detail_image.shape == (64, 40, 3)
    # the series: reference levels, enhanced channels, the frame made in the detail box only
    series = [c.copy() for c in prepped]
    stages.enhance_channels(series, stages.channel_enhancements(levels, [304, 171, 193]))
    scales = stages.channel_scales(levels, [304, 171, 193], config["gamma"])
    in_box = stages.compose_frame(series, {**settings["look"], "box": detail}, scales)
    np.testing.assert_array_equal(detail_image, in_box)
    np.testing.assert_array_equal(detail_image, crop(frame, detail))


def _sun(size: int, radius: float, region: tuple[int, int]) -> np.ndarray:
    """A disk of `radius` px with an active region (a Gaussian of 15 px) at region (x, y)."""
    y, x = np.mgrid[:size, :size]
    image = np.where(np.hypot(x - size / 2, y - size / 2) < radius, 100.0, 1.0)
    image += 400 * np.exp(-((x - region[0]) ** 2 + (y - region[1]) ** 2) / (2 * 15**2))
    return image.astype(np.float32)


def test_brightest_region_is_the_active_region_not_a_hot_pixel():
    image = _sun(512, 200, (330, 200))  # 4.8" pixels: 200 px is the solar radius
    image[100, 260] = 1e6  # a hot pixel
    image[256, 20] = image[256, 21] = 1e5  # a bright point off the disk
    box = preview.brightest_region([image, image, image], 4.8, 128)
    assert box[1] - box[0] == 128 and box[3] - box[2] == 128
    assert abs((box[0] + box[1]) / 2 - 330) <= 4 and abs((box[2] + box[3]) / 2 - 200) <= 4
    # near an edge the box is moved inside the image; larger than the image, it is the image
    image = _sun(512, 300, (470, 300))  # 3.2" pixels: the disk fills the image
    box = preview.brightest_region([image], 3.2, 128)
    assert box[:2] == [384, 512] and abs((box[2] + box[3]) / 2 - 300) <= 4
    assert preview.brightest_region([image], 3.2, 1024) == [0, 512, 0, 512]


def test_sheet_labels_each_tile_above_its_images():
    colours = [90, 110, 130, 150, 170]
    tiles = [[np.full((40, 60, 3), c, np.uint8)] * 2 for c in colours]  # 120 x 80 on the sheet
    lines = [[], ["gamma: [1.4, 1.4, 1.4]", "levels.low: [10, 10, 10]"], [], [], ["x"]]
    sheet = preview.contact_sheet(tiles, [f"look_{c}" for c in colours], lines, 120, columns=3)
    assert sheet.shape[1] == 3 * (120 + preview.GAP) + preview.GAP
    columns = [slice(preview.GAP + i % 3 * 128, preview.GAP + i % 3 * 128 + 120) for i in range(5)]
    rows = [
        np.flatnonzero((sheet[:, c] == v).all((1, 2)))
        for c, v in zip(columns, colours, strict=True)
    ]
    assert all(len(r) == 2 * 80 for r in rows)  # each tile's two images, nowhere else
    first_row_bottom = max(r[-1] for r in rows[:3])
    for i, (column, image_rows) in enumerate(zip(columns, rows, strict=True)):
        # above the images, the label: white letters
        above = sheet[0 if i < 3 else first_row_bottom + 1 : image_rows[0], column]
        assert (above == 255).all(2).sum() > 50, i


def test_thumbnails_show_every_nth_frame(tmp_path: Path):
    start = datetime(2012, 8, 31, 19, 45, tzinfo=UTC)
    rows = []
    for i in range(100):
        write_jpeg(tmp_path / f"{i}.jpg", np.full((64, 64, 3), i * 2, np.uint8))
        rows.append((f"{i}.jpg", (start + timedelta(seconds=12 * i)).isoformat()))
    write_csv(tmp_path / "frames.csv", stages.FRAME_COLUMNS, rows)
    step = report.write_thumbnails(tmp_path / "frames.csv", tmp_path, tmp_path / "t.jpg", 48)
    sheet = cv2.imread(str(tmp_path / "t.jpg"))
    assert step == 3  # 34 frames: 5 rows of 8 at 64 px with 8 px gaps
    assert sheet.shape[1] == 8 * (64 + 8) + 8
    assert sheet.shape[0] > 5 * 64 + 6 * 8


def test_histograms_are_a_figure_of_each_channel(tmp_path: Path):
    prepped = _prepped(128)
    levels = stages.prepped_levels("t", prepped, [304, 171, 193], [25] * 3, [99.5] * 3, [None] * 3)
    report.plot_histograms(tmp_path / "h.png", prepped, levels)
    image = cv2.imread(str(tmp_path / "h.png"))
    assert image.shape[0] > 2.5 * image.shape[1] / 3 and image.std() > 10


@pytest.fixture(scope="module")
def preview_run(tmp_path_factory) -> tuple[Path, set[str]]:
    """The demo with the shipped looks, a cropped one and a detail box, and a movie: first
    `snakemake preview` (what it made is returned), then `snakemake`."""
    workdir = make_workdir(
        tmp_path_factory.mktemp("preview"),
        preview={
            "size": 128,
            "detail": DETAIL,
            "looks": [*SHIPPED["preview"]["looks"], CROPPED],
        },
        movies=[{"name": "sun", "fps": 10}],
    )
    snakemake(workdir, "preview")
    made = set(mtimes(workdir / "results", "**/*.*"))
    snakemake(workdir)
    return workdir, made


def _looks(workdir: Path) -> list[str]:
    return [look["name"] for look in read_config(workdir)["preview"]["looks"]]


@pytest.mark.slow
def test_preview_target_makes_the_preview_only(preview_run):
    workdir, made = preview_run
    expected = {f"preview/{n}{part}.jpg" for n in _looks(workdir) for part in ("", "_detail")}
    expected |= {"preview/sheet.jpg", "preview/histograms.png"}
    assert expected <= made
    assert not any(f.startswith(("frames/", "movies/", "levels")) for f in made)


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(float)


@pytest.mark.slow
def test_preview_images_and_sheet(preview_run):
    workdir, _made = preview_run
    results = workdir / "results" / "preview"
    for name in _looks(workdir):
        sun, detail = _rgb(results / f"{name}.jpg"), _rgb(results / f"{name}_detail.jpg")
        assert sun.shape == ((64, 128, 3) if name == "cropped" else (128, 128, 3))
        assert detail.shape == (128, 128, 3)  # DETAIL at full resolution

    # one tile per look: each look's whole Sun, at the tiles' width, is found in the sheet at a
    # place of its own
    sheet = cv2.imread(str(results / "sheet.jpg"))
    places = set()
    for name in _looks(workdir):
        sun = cv2.imread(str(results / f"{name}.jpg"))
        found = cv2.matchTemplate(sheet, sun, cv2.TM_SQDIFF_NORMED)
        error, _, place, _ = cv2.minMaxLoc(found)
        assert error < 0.01, name
        places.add(place)
    assert len(places) == len(_looks(workdir))
    columns = {x for x, _y in places}
    assert sheet.shape[1] == len(columns) * (128 + preview.GAP) + preview.GAP

    histograms = cv2.imread(str(results / "histograms.png"))
    assert histograms.shape[0] > 700 and histograms.shape[1] > 700


@pytest.mark.slow
def test_preview_is_the_series_in_that_look(preview_run):
    """A look with no changes shows the series' reference frame, whole and in detail (within
    the JPEG's loss); an enhanced look's detail is the crop of the frame its own levels and
    enhancement make, byte for byte."""
    workdir, _made = preview_run
    results = workdir / "results"
    frame = _rgb(next((results / "frames").glob(f"*/{REFERENCE}.jpg")))
    detail = _rgb(results / "preview" / "aia_default_detail.jpg")
    x0, x1, y0, y1 = DETAIL
    difference = np.abs(detail - frame[y0:y1, x0:x1])
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 12
    sun = _rgb(results / "preview" / "aia_default.jpg")
    downsized = cv2.resize(frame, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(sun - downsized).mean() < 2

    config = configuration.merge(read_config(workdir), SHIPPED["preview"]["looks"][-2])
    assert config["enhance"]["method"] == "mgn"
    channels = config["channels"]
    info, prepped = preview.load_reference(results / "preview" / "reference", channels)
    assert info["triplet"] == REFERENCE
    prepped = [np.array(c) for c in prepped]
    levels = stages.prepped_levels(
        REFERENCE, prepped, channels, config["levels"]["low"], config["levels"]["high"],
        configuration.enhancements(config),
    )  # fmt: skip
    scales = stages.channel_scales(levels, channels, config["gamma"])
    expected = stages.compose_frame(prepped, configuration.look(config), scales)[y0:y1, x0:x1]
    write_jpeg(workdir / "expected.jpg", np.ascontiguousarray(expected), config["jpeg_quality"])
    detail = results / "preview" / "mgn_detail.jpg"
    assert detail.read_bytes() == (workdir / "expected.jpg").read_bytes()


@pytest.mark.slow
def test_report_holds_the_preview_frames_movies_levels_and_skips(preview_run):
    workdir, _made = preview_run
    snakemake(workdir, "--report", "report.zip")
    with zipfile.ZipFile(workdir / "report.zip") as archive:
        names = {Path(name).name for name in archive.namelist()}
    assert {
        "sheet.jpg",
        "histograms.png",
        "thumbnails.jpg",
        "sun.mp4",
        "levels.yaml",
        "skipped.html",
        "report.html",
    } <= names
    snakemake(workdir, "--report", "report.html")
    page = (workdir / "report.html").read_text()
    assert "preview.looks" in page and "at most 48" in page  # captions


@pytest.mark.slow
def test_changing_a_look_reruns_that_look_and_the_sheet(tmp_path: Path):
    looks = [{"name": "config"}, {"name": "soft", "gamma": [2.0, 2.0, 1.8]}, CROPPED]
    workdir = make_workdir(tmp_path, preview={"size": 128, "detail": None, "looks": looks})
    snakemake(workdir, "preview")
    results = workdir / "results"
    before = mtimes(results, "preview/**/*")

    def rerun_with(**changes) -> set[str]:
        nonlocal before
        write_config(workdir, configuration.merge(read_config(workdir), changes))
        time.sleep(0.05)
        snakemake(workdir, "preview")
        after = mtimes(results, "preview/**/*")
        assert after.keys() == before.keys()
        changed, before = {f for f in after if after[f] != before[f]}, after
        return changed

    looks[1]["gamma"] = [2.2, 2.0, 1.8]
    assert rerun_with(preview={"looks": looks}) == {
        "preview/soft.jpg",
        "preview/soft_detail.jpg",
        "preview/sheet.jpg",
    }
    # the config's gamma: the looks that do not set their own (soft and cropped do), the sheet
    assert rerun_with(gamma=[2.6, 2.8, 2.4]) == {
        "preview/config.jpg",
        "preview/config_detail.jpg",
        "preview/sheet.jpg",
    }
