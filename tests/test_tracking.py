"""Tracked close-ups: the box follows a point of the Sun as sunpy's frames say it moves."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import astropy.units as u
import cv2
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time
from sunpy.coordinates import (
    HeliographicStonyhurst,
    Helioprojective,
    RotatedSunFrame,
    get_earth,
    propagate_with_solar_surface,
    transform_with_sun_center,
)
from sunpy.sun.models import differential_rotation
from test_movies import decode
from workflow_run import encodings, make_workdir, read_config, snakemake, write_config

from aia_reloaded import stages, tracking
from aia_reloaded.colour import crop
from aia_reloaded.reading import Geometry
from aia_reloaded.registration import prep_matrix
from aia_reloaded.sequence import MovieSettings
from aia_reloaded.synthetic import make_series
from aia_reloaded.video import make_movie, subpixel_box
from aia_reloaded.writing import read_csv, write_csv

START = datetime(2012, 8, 31, 19, 45, 5, tzinfo=UTC)
MODELS = ("howard", "snodgrass", "allen")  # sunpy's differential rotation models
SDO_ORBIT_M = 42_164e3  # geosynchronous radius: SDO's distance from the Earth's centre


def sdo_observers(times: list[datetime]) -> list[tracking.Observer]:
    """AIA-like observers: the Earth (its orbit and B0 from sunpy) plus SDO's daily circle."""
    observers = []
    for time in times:
        earth = get_earth(Time(time))
        phase = 2 * np.pi * (time - START).total_seconds() / 86164
        offset = SDO_ORBIT_M * np.array([np.cos(phase), np.sin(phase) * 0.48, np.sin(phase)])
        distance = earth.radius.to_value(u.m)
        observers.append(
            tracking.Observer(
                time,
                earth.lon.deg + np.degrees(offset[0] / distance),
                earth.lat.deg + np.degrees(offset[1] / distance),
                distance + offset[2],
            )
        )
    return observers


def sky_of_pixels(size: int, plate_scale: float) -> np.ndarray:
    """Prep's own map from frame pixels to helioprojective arcsec (a 1"/px identity input)."""
    identity = Geometry((1.0, 1.0), (1.0, 1.0), (0.0, 0.0), ((1.0, 0.0), (0.0, 1.0)), (1, 1))
    return prep_matrix(identity, size, plate_scale)


def pixels_of_sky(size: int, plate_scale: float, sky: np.ndarray) -> np.ndarray:
    inverse = cv2.invertAffineTransform(sky_of_pixels(size, plate_scale))
    return sky @ inverse[:, :2].T + inverse[:, 2]


def sunpy_track(crop, observers, size, plate_scale, model, sun_centred=True) -> np.ndarray:
    """The frame pixel, in each observer's frame, of the point at the crop's centre at the
    first observer's time: sunpy's RotatedSunFrame, then prep's pixel map.

    sun_centred: the Sun's centre held fixed (transform_with_sun_center), so that a point of
    the surface moves with the Sun about the barycentre (without, it stays behind: 0.7 px in
    3 days).
    """
    w, h, x, y = crop
    matrix = sky_of_pixels(size, plate_scale)
    tx, ty = matrix[:, :2] @ [x + (w - 1) / 2, y + (h - 1) / 2] + matrix[:, 2]
    seen_from = tracking._observers(observers)
    first = seen_from[0]
    base = SkyCoord(tx * u.arcsec, ty * u.arcsec, frame=Helioprojective(observer=first))
    rotated = SkyCoord(
        RotatedSunFrame(base=base, rotated_time=seen_from.obstime, rotation_model=model)
    )
    with transform_with_sun_center() if sun_centred else contextlib.nullcontext():
        seen = rotated.transform_to(Helioprojective(observer=seen_from, obstime=seen_from.obstime))
    sky = np.stack([seen.Tx.to_value(u.arcsec), seen.Ty.to_value(u.arcsec)], axis=-1)
    return pixels_of_sky(size, plate_scale, sky)


def hidden(crop, observers, model) -> np.ndarray:
    """Whether sunpy puts the point behind the limb in each frame: farther from the observer
    than the limb is."""
    w, h, x, y = crop
    seen_from = tracking._observers(observers)
    tx, ty = sky_of_pixels(4096, 0.6) @ [x + (w - 1) / 2, y + (h - 1) / 2, 1]
    base = SkyCoord(tx * u.arcsec, ty * u.arcsec, frame=Helioprojective(observer=seen_from[0]))
    rotated = SkyCoord(
        RotatedSunFrame(base=base, rotated_time=seen_from.obstime, rotation_model=model)
    )
    with transform_with_sun_center():
        seen = rotated.transform_to(Helioprojective(observer=seen_from, obstime=seen_from.obstime))
    tangent = np.sqrt(seen_from.radius**2 - (695_700 * u.km) ** 2)
    return np.asarray(seen.distance > tangent)


def crop_at(lon: float, lat: float, observer: tracking.Observer, size=4096, scale=0.6, w=256):
    """A w x w crop [w, w, x, y] centred (to the pixel) on Stonyhurst lon, lat."""
    seen_from = tracking._observers([observer])[0]
    point = SkyCoord(lon * u.deg, lat * u.deg, 695_700 * u.km, frame=HeliographicStonyhurst)
    hpc = point.transform_to(Helioprojective(observer=seen_from, obstime=seen_from.obstime))
    sky = np.array([[hpc.Tx.to_value(u.arcsec), hpc.Ty.to_value(u.arcsec)]])
    col, row = pixels_of_sky(size, scale, sky)[0]
    return [w, w, round(col - (w - 1) / 2), round(row - (w - 1) / 2)]


THREE_DAYS = [START + timedelta(hours=3 * i) for i in range(25)]


@pytest.mark.parametrize("model", MODELS)
def test_box_follows_sunpys_rotated_point_over_three_days(model: str):
    observers = sdo_observers(THREE_DAYS)
    grid = tracking.Grid(4096, 0.6)
    track = tracking.Track(observers[0], model, grid)
    for lat in (0, 30, -30, 60, -60):
        crop = crop_at(-55, lat, observers[0])
        centres = tracking.box_centres(track, crop, observers, (4096, 4096), "movie ar")
        expected = sunpy_track(crop, observers, 4096, 0.6, model)
        assert np.abs(centres - expected).max() < 0.5, (model, lat)
        assert centres[-1, 0] - centres[0, 0] > 300, (model, lat)  # it crossed the disk


def test_config_crop_moves_the_frame_not_the_sun():
    """With the config's crop [x0, x1, y0, y1], frame pixel (col, row) is prepped pixel
    (col + x0, row + y0): the same point of the Sun, the same path, shifted."""
    observers = sdo_observers(THREE_DAYS[:9])
    crop = crop_at(-30, 20, observers[0])
    whole = tracking.Track(observers[0], "howard", tracking.Grid(4096, 0.6))
    cut = tracking.Track(observers[0], "howard", tracking.Grid(4096, 0.6, (1000, 600)))
    moved = [crop[0], crop[1], crop[2] - 1000, crop[3] - 600]
    expected = tracking.box_centres(whole, crop, observers, (4096, 4096), "movie ar") - [1000, 600]
    got = tracking.box_centres(cut, moved, observers, (3000, 3000), "ar")
    assert np.abs(got - expected).max() < 1e-6


def test_rotation_models_give_sunpys_rates():
    """The Stonyhurst longitude of the box centre, taken back to `at`'s frame (the Sun's
    sidereal rotation), moves as sunpy's model says; the models differ by many pixels."""
    observers = sdo_observers(THREE_DAYS)
    last = tracking._observers(observers)[-1]
    days = (THREE_DAYS[-1] - THREE_DAYS[0]).total_seconds() * u.s
    ends = {}
    for model in MODELS:
        track = tracking.Track(observers[0], model, tracking.Grid(4096, 0.6))
        for lat in (0, 30, 60):
            crop = crop_at(-55, lat, observers[0])
            start_point = tracking.surface_point(
                tracking.crop_centre(crop), observers[0], track.grid
            )
            end = tracking.box_centres(track, crop, observers, (4096, 4096), "movie ar")[-1]
            tx, ty = sky_of_pixels(4096, 0.6) @ [*end, 1]
            seen = SkyCoord(tx * u.arcsec, ty * u.arcsec, frame=Helioprojective(observer=last))
            with transform_with_sun_center():
                back = seen.make_3d().transform_to(
                    HeliographicStonyhurst(obstime=start_point.obstime)
                )
            moved = (back.lon - start_point.lon).to(u.deg)
            rate = differential_rotation(days, start_point.lat, model=model)
            assert abs(moved - rate) < 0.005 * u.deg, (model, lat, moved, rate)
            ends[model, lat] = end
    at_60 = [ends[model, 60] for model in MODELS]  # they differ most there
    assert min(np.hypot(*(a - b)) for a, b in itertools.combinations(at_60, 2)) > 5


def test_limb_and_frame_edge_stop_the_box(caplog):
    observers = sdo_observers(THREE_DAYS)
    track = tracking.Track(observers[0], "howard", tracking.Grid(4096, 0.6))
    crop = crop_at(62, 10, observers[0], w=512)  # behind the west limb within 3 days
    with caplog.at_level(logging.WARNING):
        centres = tracking.box_centres(track, crop, observers, (4096, 4096), "movie ar")
    assert (centres >= 255.5).all() and (centres <= 4095 - 255.5).all()
    limb = 3600 * np.degrees(np.arcsin(695_700e3 / observers[-1].distance))
    tx, ty = sky_of_pixels(4096, 0.6) @ [*centres[-1], 1]
    assert np.hypot(tx, ty) == pytest.approx(limb, abs=0.6)  # held on the limb, behind it
    assert np.abs(np.diff(centres[:, 0])).max() < 200  # no jump anywhere
    said = caplog.text
    assert "movie ar: the point is behind the limb, the box stays on it from the frame of" in said
    first_hidden = int(np.argmax(hidden(crop, observers, "howard")))
    assert first_hidden > 0
    assert f"from the frame of {THREE_DAYS[first_hidden]:%Y-%m-%d %H:%M:%S}" in said
    wide = [2048, 512, 2040, 1800]  # 8 px from the frame's right edge
    edge = tracking.box_centres(track, wide, observers[:3], (4096, 4096), "movie e")
    assert edge[0, 0] == 2040 + 1023.5 and (edge[1:, 0] == 4095 - 1023.5).all()
    assert (
        "movie e: the box stops at the frame's edge from the frame of 2012-08-31 22:45:05"
        in caplog.text
    )


def test_point_off_the_disk_is_one_sentence():
    observer = sdo_observers([START])[0]
    track = tracking.Track(observer, "howard", tracking.Grid(4096, 0.6))
    with pytest.raises(tracking.TrackError) as error:
        tracking.box_centres(track, [256, 256, 3800, 1920], [observer], (4096, 4096), "movie ar")
    message = str(error.value)
    assert message.count(". ") == 0 and message.endswith(
        "a tracked box must be centred on the disk."
    )
    assert "off the solar disk (radius 9" in message and "at 2012-08-31 19:45:05" in message


def test_subpixel_box_moves_smoothly():
    """A blob at fractional positions stays at the box centre to a small fraction of a pixel
    (the jitter a whole-pixel box would have is up to 0.5 px)."""
    y, x = np.mgrid[:200, :200].astype(np.float32)
    errors = []
    for offset in np.linspace(0, 1, 11):
        cx, cy = 100.3 + offset, 99.6 + offset / 2
        image = np.round(250 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 8)).astype(np.uint8)
        box = subpixel_box(np.dstack([image] * 3), (cx, cy), (64, 64))[..., 0].astype(float)
        yy, xx = np.mgrid[:64, :64]
        found = (xx * box).sum() / box.sum(), (yy * box).sum() / box.sum()
        errors.append(np.hypot(found[0] - 31.5, found[1] - 31.5))
    assert max(errors) < 0.075  # bicubic: 0.05 px measured


def test_a_tracked_frame_box_is_placed_to_a_fraction_of_a_pixel():
    """boxed_frame: a blob at a fractional position lands at the box centre within 0.075 px;
    at whole offsets, and at the frame's edge, the box is the exact pixels."""
    size, w = 256, 64
    image = blob_frame(size, np.array([100.3, 120.7]))
    make = functools.partial(crop, image)
    box = (0, w, 0, w)
    placed = stages.boxed_frame(make, box, (100.3, 120.7), size)
    assert placed.shape == (w, w, 3)
    assert np.hypot(*(centroid(placed) - (w - 1) / 2)) < 0.075
    whole = stages.boxed_frame(make, box, (100.5, 120.5), size)  # top left at (69, 89)
    assert (whole == image[89 : 89 + w, 69 : 69 + w]).all()
    corner = stages.boxed_frame(make, box, ((w - 1) / 2, size - 1 - (w - 1) / 2), size)
    assert (corner == image[size - w :, :w]).all()
    assert (stages.boxed_frame(make, box, None, size) == image[:w, :w]).all()


@pytest.mark.slow
def test_workflow_tracked_frames_products_and_preview(tmp_path: Path):
    """Three triplets 2 hours apart: the frames of a tracked crop (the config's and a
    channel product's) are the full frames' boxes at tracking.box_centres of the headers'
    observers; the staged path makes the same bytes; the preview's tracked detail of the
    last triplet is that triplet's tracked frame."""
    data = tmp_path / "data"
    make_series(data, 3, size=256, seed=4, noise=False, cadence_s=7200)
    box, track = [96, 160, 80, 144], {"at": None, "rotation": "snodgrass"}
    products = [
        {"name": "composite"},
        {"name": "full", "crop": None, "track": None},
        {"name": "aia171", "kind": "channel", "channel": 171, "crop": None, "track": None},
        {"name": "aia171_track", "kind": "channel", "channel": 171},
    ]
    runs = {}
    for staged in (False, True):
        workdir = make_workdir(
            tmp_path / f"run{staged}", input_dir=str(data), crop=box, track=track,
            products=products, keep_intermediates=staged, reference="20120831T234505",
            preview={"size": 256, "detail": box, "track": track, "looks": [{"name": "config"}]},
        )  # fmt: skip
        snakemake(workdir, "all", "preview")
        runs[staged] = workdir / "results"
    results = runs[False]
    rows = [row for p in sorted((results / "frame_lists").glob("*.csv")) for row in read_csv(p)]
    observers = [
        tracking.Observer(
            datetime.fromisoformat(row["t_obs"]),
            *(float(row[key]) for key in ("hgln_obs", "hglt_obs", "dsun_obs")),
        )
        for row in rows
    ]
    crop_whxy = [box[1] - box[0], box[3] - box[2], box[0], box[2]]
    at = tracking.Track(observers[0], "snodgrass", tracking.Grid(256, 9.6))
    centres = tracking.box_centres(at, crop_whxy, observers, (256, 256), "test")
    assert centres[-1][0] - centres[0][0] > 3  # 4 hours at 9.6"/px
    assert centres[0] == pytest.approx([127.5, 111.5], abs=1e-6)  # the crop itself at `at`

    def read(path: Path) -> np.ndarray:
        return cv2.imread(str(path)).astype(float)

    pairs = (("full", results), ("aia171", results / "products/aia171_track"))
    for whole_name, tracked_dir in pairs:
        for row, centre in zip(rows, centres, strict=True):
            whole = cv2.imread(str(results / "products" / whole_name / "frames" / row["frame"]))
            tracked = read(tracked_dir / "frames" / row["frame"])
            assert tracked.shape == (64, 64, 3)
            errors = {
                shift: np.abs(subpixel_box(whole, centre + shift, (64, 64)) - tracked).mean()
                for shift in itertools.product((-0.5, 0, 0.5), repeat=2)
            }
            assert min(errors, key=errors.get) == (0, 0), errors  # placed to the half pixel
            assert errors[0, 0] < 1.5  # DN: JPEG's losses alone
    staged = sorted(p.relative_to(runs[True]) for p in runs[True].glob("**/frames/*/*.jpg"))
    assert len(staged) == 4 * len(rows)
    for path in staged:
        assert (runs[True] / path).read_bytes() == (results / path).read_bytes(), path
    detail = read(results / "preview" / "config_detail.jpg")
    error = np.abs(detail - read(results / "frames" / rows[-1]["frame"])).mean()
    fixed = read(results / "products/full/frames" / rows[-1]["frame"])[80:144, 96:160]
    assert error < 1.0 and np.abs(detail - fixed).mean() > 4 * error, error  # the Sun turned


def blob_frame(size: int, centre: np.ndarray) -> np.ndarray:
    y, x = np.mgrid[:size, :size].astype(np.float32)
    blob = 230 * np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * 2.5**2))
    return np.dstack([blob + 10] * 3).astype(np.uint8)


def centroid(image: np.ndarray) -> np.ndarray:
    grey = image.mean(axis=2) - 10
    grey[grey < 30] = 0
    rows, cols = np.indices(grey.shape)
    return np.array([(cols * grey).sum(), (rows * grey).sum()]) / grey.sum()


def test_tracked_movie_keeps_the_blob_centred_while_a_fixed_box_loses_it(tmp_path: Path, caplog):
    """A bright blob moving as sunpy's RotatedSunFrame says, over 2 days at 4.8"/px: in the
    tracked movie it stays within 1 px of the centre; in the fixed box it drifts away."""
    size, scale = 512, 4.8
    times = [START + timedelta(hours=2 * i) for i in range(25)]
    observers = sdo_observers(times)
    crop = crop_at(-20, 25, observers[0], size, scale, w=64)
    truth = sunpy_track(crop, observers, size, scale, "howard")
    (tmp_path / "frames").mkdir()
    rows = []
    for time, observer, centre in zip(times, observers, truth, strict=True):
        name = f"frames/{time:%Y%m%dT%H%M%S}.jpg"
        cv2.imwrite(str(tmp_path / name), blob_frame(size, centre), [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append((name, time.isoformat(), observer.lon, observer.lat, observer.distance))
    write_csv(tmp_path / "list.csv", ("frame", "t_obs", "hgln_obs", "hglt_obs", "dsun_obs"), rows)
    plain = {"crop": crop, "frame_size": [128, 128], "timestamp": False, "colour_key": False}
    fixed = MovieSettings("fixed", **plain)
    tracked = MovieSettings("tracked", **plain, track={"at": None, "rotation": "howard"})
    track = tracking.Track(observers[0], "howard", tracking.Grid(size, scale))
    for settings, movie_track in ((fixed, None), (tracked, track)):
        make_movie([tmp_path / "list.csv"], tmp_path, tmp_path / f"{settings.name}.mp4",
                   settings, [], track=movie_track)  # fmt: skip
    # movie pixel (2 per frame pixel) of the crop's centre: 63.5
    tracked_error = [np.hypot(*(centroid(f) - 63.5)) / 2 for f in decode(tmp_path / "tracked.mp4")]
    fixed_frames = decode(tmp_path / "fixed.mp4")
    assert max(tracked_error) < 1.0
    assert np.hypot(*(centroid(fixed_frames[0]) - 63.5)) / 2 < 1.0
    assert np.abs(truth[-1] - truth[0]).max() > 20  # the blob left the fixed 64 px box
    assert fixed_frames[-1].max() < 60  # nothing bright is left in it

    # a frame list written before tracking: the Earth's centre stands in for SDO, and says so
    write_csv(tmp_path / "old.csv", ("frame", "t_obs"), [row[:2] for row in rows])
    with caplog.at_level(logging.WARNING):
        make_movie([tmp_path / "old.csv"], tmp_path, tmp_path / "old.mp4", tracked, [], track=track)
    assert "movie tracked: 25 frames lack the observer" in caplog.text
    assert "`snakemake --cores all --forcerun render`" in caplog.text
    old_error = [np.hypot(*(centroid(f) - 63.5)) / 2 for f in decode(tmp_path / "old.mp4")]
    assert max(old_error) < 1.0


def best_shift(frame: np.ndarray, image: np.ndarray) -> int:
    """The column offset from the crop [64, 64, 96, 80] of frame that matches image best."""
    crops = {dx: frame[80:144, 96 + dx : 160 + dx] for dx in range(-2, 8)}
    return min(crops, key=lambda dx: ((crops[dx] - image) ** 2).mean())


@pytest.mark.slow
def test_workflow_tracked_movie(tmp_path: Path):
    """Three triplets 2 hours apart: the tracked box moves as the headers' observers and the
    rotation say; a change of the rotation model re-encodes that movie alone. A reprojected
    box shows at `at` what the fixed box shows."""
    data = tmp_path / "data"
    make_series(data, 3, size=256, seed=4, noise=False, cadence_s=7200)
    box = {"crop": [64, 64, 96, 80], "timestamp": False, "colour_key": False, "contrast": 1}
    movies = [
        {"name": "fixed", **box},
        {"name": "tracked", **box, "track": {"at": None, "rotation": "howard"}},
        {"name": "reprojected", **box, "track": {"reproject": True}},
    ]
    workdir = make_workdir(tmp_path / "run", input_dir=str(data), movies=movies)
    snakemake(workdir)
    results = workdir / "results"
    rows = [
        row for path in sorted((results / "frame_lists").glob("*.csv")) for row in read_csv(path)
    ]
    observers = [
        tracking.Observer(
            datetime.fromisoformat(row["t_obs"]),
            *(float(row[key]) for key in ("hgln_obs", "hglt_obs", "dsun_obs")),
        )
        for row in rows
    ]
    earth = get_earth(Time(observers[-1].time))
    assert observers[-1].distance == pytest.approx(earth.radius.to_value(u.m))
    track = tracking.Track(observers[0], "howard", tracking.Grid(256, 9.6))
    expected = tracking.box_centres(track, box["crop"], observers, (256, 256), "t")
    expected -= expected[0]
    assert expected[-1, 0] > 3  # 4 hours at 9.6"/px
    fixed, tracked, reprojected = (
        decode(results / "movies" / f"{m}.mp4") for m in ("fixed", "tracked", "reprojected")
    )
    assert len(fixed) == len(tracked) == len(reprojected) == 3
    assert (reprojected[0] == fixed[0]).all()  # at `at`, the reprojection changes nothing
    for k, row in enumerate(rows):  # the whole-pixel crop nearest the box fits it best
        frame = cv2.imread(str(results / "frames" / row["frame"]))[..., ::-1].astype(float)
        assert best_shift(frame, fixed[k]) == 0
        assert best_shift(frame, tracked[k]) == round(expected[k, 0]), (k, expected[k])
    before = encodings(results)
    config = read_config(workdir)
    config["movies"][1]["track"]["rotation"] = "snodgrass"
    write_config(workdir, config)
    snakemake(workdir)
    after = encodings(results)
    assert {f for f in after if after[f] != before[f]} == {
        f"segments/tracked/{row['frame'].split('/')[0]}.mp4" for row in rows
    }


def surface_pattern(size: int, scale: float, observer: tracking.Observer, at: tracking.Observer):
    """A frame showing a pattern fixed to the rotating surface: each pixel's point of the
    disk taken back to `at` by sunpy (propagate_with_solar_surface), then cos x cos of its
    Stonyhurst longitude and latitude there (4 degree period)."""
    rows, cols = np.indices((size, size))
    matrix = sky_of_pixels(size, scale)
    tx, ty = np.tensordot(matrix[:, :2], [cols, rows], axes=1) + matrix[:, 2, None, None]
    seen_from = tracking._observers([observer])[0]
    frame = Helioprojective(observer=seen_from, obstime=seen_from.obstime)
    with np.errstate(invalid="ignore"):
        surface = SkyCoord(tx.ravel() * u.arcsec, ty.ravel() * u.arcsec, frame=frame).make_3d()
    with propagate_with_solar_surface():
        back = SkyCoord(surface).transform_to(HeliographicStonyhurst(obstime=Time(at.time)))
    lon, lat = (np.radians(a.deg).reshape(size, size) * 90 for a in (back.lon, back.lat))
    pattern = np.nan_to_num(120 + 100 * np.cos(lon) * np.cos(lat), nan=0)
    return np.dstack([pattern] * 3).astype(np.uint8)


def test_reprojected_box_shows_the_region_as_seen_at_at(tmp_path: Path):
    """A pattern fixed to the surface, over 2 days: reprojected, the box shows what it showed
    at `at` in every frame; merely tracked, it foreshortens and shears."""
    size, scale = 512, 4.8
    times = [START + timedelta(hours=12 * i) for i in range(5)]
    observers = sdo_observers(times)
    (tmp_path / "frames").mkdir()
    rows = []
    for time, observer in zip(times, observers, strict=True):
        name = f"frames/{time:%Y%m%dT%H%M%S}.jpg"
        frame = surface_pattern(size, scale, observer, observers[0])
        cv2.imwrite(str(tmp_path / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        rows.append((name, time.isoformat(), observer.lon, observer.lat, observer.distance))
    write_csv(tmp_path / "list.csv", ("frame", "t_obs", "hgln_obs", "hglt_obs", "dsun_obs"), rows)
    crop = crop_at(-35, 20, observers[0], size, scale, w=64)
    movies = {}
    for reproject in (False, True):
        settings = MovieSettings(
            f"r{reproject}", crop=crop, frame_size=[128, 128], timestamp=False, colour_key=False,
            contrast=1, track={"at": None, "rotation": "howard", "reproject": reproject},
        )  # fmt: skip
        track = tracking.Track(observers[0], "howard", tracking.Grid(size, scale), reproject)
        movie = tmp_path / f"{settings.name}.mp4"
        make_movie([tmp_path / "list.csv"], tmp_path, movie, settings, [], track=track)
        movies[reproject] = decode(movie).astype(float)
    change = {r: [np.abs(m[k] - m[0]).mean() for k in range(1, 5)] for r, m in movies.items()}
    assert max(change[True]) < 5, change  # grey levels (3.4 measured): the same region
    assert min(change[False][1:]) > 5 * max(change[True]), change  # 46-57 measured
