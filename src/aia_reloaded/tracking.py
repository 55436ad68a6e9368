"""Boxes that follow the Sun's rotation: where a point of the solar surface lies in each frame.

The centre of a box at time `at` names a point of the surface (Stonyhurst longitude and
latitude, seen from the observer at `at`). In every frame the box is centred where that point
is at the frame's time, moved by a differential rotation model of sunpy and seen from the
frame's own observer (SDO's position from its header). The image is not reprojected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time
from sunpy.coordinates import (
    HeliographicCarrington,
    HeliographicStonyhurst,
    Helioprojective,
    get_earth,
    propagate_with_solar_surface,
)
from sunpy.sun import constants

log = logging.getLogger(__name__)


class TrackError(ValueError):
    """A tracked box whose point is not on the visible disk at `at`."""


@dataclass(frozen=True)
class Observer:
    """Where an image was taken from: Stonyhurst longitude, latitude (deg), distance (m)."""

    time: datetime
    lon: float
    lat: float
    distance: float


@dataclass(frozen=True)
class Grid:
    """Frame pixels on the sky: prep's size and plate scale (arcsec/px), and the corner
    (x0, y0) of the config's crop in prepped pixels. North up, helioprojective (0, 0) at
    prepped pixel ((size - 1) / 2, (size - 1) / 2)."""

    size: int
    plate_scale: float
    corner: tuple[int, int] = (0, 0)

    def sky(self, pixels: np.ndarray) -> np.ndarray:
        """Helioprojective (Tx, Ty) in arcsec of frame pixels (col, row)."""
        c = (self.size - 1) / 2
        col, row = np.asarray(pixels, float).T + np.array(self.corner)[:, None]
        return np.stack([col - c, c - row], axis=-1) * self.plate_scale

    def pixels(self, sky: np.ndarray) -> np.ndarray:
        """Frame pixels (col, row) of helioprojective (Tx, Ty) in arcsec."""
        c = (self.size - 1) / 2
        tx, ty = np.asarray(sky, float).T / self.plate_scale
        return np.stack([tx + c - self.corner[0], c - ty - self.corner[1]], axis=-1)


def earth_observer(time: datetime) -> Observer:
    """The Earth's centre as the observer at `time` (SDO is 42,000 km from it)."""
    earth = get_earth(Time(time))
    return Observer(
        time, *(float(v) for v in (earth.lon.deg, earth.lat.deg, earth.radius.to_value(u.m)))
    )


def from_carrington(time: datetime, lon: float, lat: float, distance: float) -> Observer:
    """The observer of Carrington keywords (CRLN_OBS, CRLT_OBS, DSUN_OBS) in Stonyhurst."""
    obstime = Time(time)
    frame = HeliographicCarrington(obstime=obstime, observer="self")
    hgs = SkyCoord(lon * u.deg, lat * u.deg, distance * u.m, frame=frame).heliographic_stonyhurst
    return Observer(time, hgs.lon.deg.item(), hgs.lat.deg.item(), hgs.radius.to_value(u.m).item())


def _observers(observers: Sequence[Observer]) -> SkyCoord:
    return SkyCoord(
        [o.lon for o in observers] * u.deg,
        [o.lat for o in observers] * u.deg,
        [o.distance for o in observers] * u.m,
        frame=HeliographicStonyhurst(obstime=Time([o.time for o in observers])),
    )


def crop_centre(crop: Sequence[int]) -> tuple[float, float]:
    """The centre (col, row) of a crop [w, h, x, y]: half-way between its edge pixels."""
    w, h, x, y = crop
    return x + (w - 1) / 2, y + (h - 1) / 2


def surface_point(centre: Sequence[float], at: Observer, grid: Grid) -> SkyCoord:
    """The point of the surface (Stonyhurst, at at.time) seen at frame pixel centre (col, row)
    from the observer at `at`; TrackError if it is off the disk."""
    (tx, ty), observer = grid.sky([centre])[0], _observers([at])[0]
    frame = Helioprojective(observer=observer, obstime=observer.obstime)
    point = SkyCoord(tx * u.arcsec, ty * u.arcsec, frame=frame)
    limb = np.degrees(np.arcsin(constants.radius / observer.radius)).to_value(u.arcsec)
    if np.hypot(tx, ty) >= limb:
        raise TrackError(
            f'the box centre, pixel ({centre[0]:g}, {centre[1]:g}) at ({tx:.0f}", {ty:.0f}"), '
            f'is off the solar disk (radius {limb:.0f}") at {at.time:%Y-%m-%d %H:%M:%S}: '
            "a tracked box must be centred on the disk."
        )
    return SkyCoord(point.make_3d()).transform_to(HeliographicStonyhurst(obstime=observer.obstime))


def rotated_positions(
    point: SkyCoord, observers: Sequence[Observer], rotation: str
) -> tuple[np.ndarray, np.ndarray]:
    """Helioprojective (Tx, Ty) in arcsec of the surface point at each observer's time, seen
    from it, and whether the point is on the visible side; all frames in one transform.

    The point moves with the solar surface (sunpy's propagate_with_solar_surface: the
    rotation model, and the Sun's centre, not the point, fixed as the Sun moves about the
    solar system's barycentre).
    """
    seen_from = _observers(observers)
    times = seen_from.obstime
    with propagate_with_solar_surface(rotation):
        moved = point.transform_to(HeliographicStonyhurst(obstime=times))
        seen = moved.transform_to(Helioprojective(observer=seen_from, obstime=times))
    sky = np.stack([seen.Tx.to_value(u.arcsec), seen.Ty.to_value(u.arcsec)], axis=-1)
    return sky, _visible(moved, seen_from)


def _visible(points: SkyCoord, observer: SkyCoord) -> np.ndarray:
    """Whether surface points (shape (n,)) are on the observer's (one, or one each) side of
    their tangent plane: sunpy's is_visible() allows 1 m, and the transforms' rounding puts
    visible points deeper than that."""
    xyz = points.cartesian.xyz.to_value(u.m)
    facing = (xyz * observer.cartesian.xyz.to_value(u.m).reshape(3, -1)).sum(axis=0)
    return facing >= (xyz**2).sum(axis=0)


@dataclass(frozen=True)
class Track:
    """A movie's tracking: the observer at `at`, when the box is where its crop puts it, the
    rotation model and the frames' grid; reproject: show the region as seen at `at`."""

    at: Observer
    rotation: str
    grid: Grid
    reproject: bool = False


def observer_at(
    at: datetime, frames: Sequence[tuple[datetime, tuple[float, float, float] | None]]
) -> Observer:
    """The observer at `at`: that of the frame (time, (lon, lat, distance)) nearest in time
    (SDO's orbit moves a point of the disk by 0.07" an hour at most), else the Earth's centre."""
    known = [(abs(time - at), observer) for time, observer in frames if observer is not None]
    if not known:
        log.warning(
            "no frame near %s tells its observer (at is outside the series, or its frame list "
            "predates tracking): the Earth's centre stands in for SDO", at,
        )  # fmt: skip
        return earth_observer(at)
    return Observer(at, *min(known, key=lambda pair: pair[0])[1])


def placed_centres(
    track: Track, crop: Sequence[int], observers: Sequence[Observer], source: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The centre (col, row) of a tracked box crop [w, h, x, y] in each frame of `source` size,
    and in which frames the point is behind the limb, and the box at the frame's edge.

    Behind the limb the box stays on the limb at the point's position angle; it never leaves
    the frame.
    """
    w, h = crop[:2]
    point = surface_point(crop_centre(crop), track.at, track.grid)
    sky, visible = rotated_positions(point, observers, track.rotation)
    if not visible.all():
        distances = np.array([o.distance for o in observers])
        limb = np.degrees(np.arcsin(constants.radius.to_value(u.m) / distances)) * 3600
        angle = np.arctan2(sky[:, 1], sky[:, 0])
        on_limb = limb[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        sky = np.where(visible[:, None], sky, on_limb)
    centres = track.grid.pixels(sky)
    half = np.array([(w - 1) / 2, (h - 1) / 2])
    clamped = np.clip(centres, half, np.array(source) - 1 - half)
    return clamped, ~visible, (clamped != centres).any(axis=1)


def box_centres(
    track: Track,
    crop: Sequence[int],
    observers: Sequence[Observer],
    source: tuple[int, int],
    label: str,
) -> np.ndarray:
    """placed_centres, and the log of where the box stops (say_limits; label: `movie x`)."""
    centres, behind, at_edge = placed_centres(track, crop, observers, source)
    say_limits(label, observers, behind, at_edge)
    return centres


def say_limits(
    label: str, observers: Sequence[Observer], behind: np.ndarray, at_edge: np.ndarray
) -> None:
    """Log from which frame (of observers, in time order) a box's point is behind the limb,
    and from which the box stops at the frame's edge."""
    _say(label, "the point is behind the limb, the box stays on it", observers, behind)
    _say(label, "the box stops at the frame's edge", observers, at_edge)


def _say(label: str, what: str, observers: Sequence[Observer], where: np.ndarray) -> None:
    if where.any():
        first = observers[int(np.argmax(where))].time
        log.warning(
            "%s: %s from the frame of %s (%d of %d frames)",
            label, what, f"{first.astimezone(UTC):%Y-%m-%d %H:%M:%S}", where.sum(), len(where),
        )  # fmt: skip


def reprojection_nodes(
    track: Track, cols: np.ndarray, rows: np.ndarray, observers: Sequence[Observer]
) -> np.ndarray:
    """Where the surface seen at frame pixels (cols x rows) at `at` lies in each frame: frame
    pixels (col, row), shape (frames, rows, cols, 2); NaN off the disk at `at` and behind the
    limb in the frame. One sunpy transform a frame."""
    col, row = np.meshgrid(cols, rows)
    tx, ty = track.grid.sky(np.stack([col.ravel(), row.ravel()], axis=-1)).T
    at = _observers([track.at])[0]
    seen_at = SkyCoord(tx * u.arcsec, ty * u.arcsec, frame=Helioprojective(observer=at))
    with np.errstate(invalid="ignore"):
        surface = SkyCoord(seen_at.make_3d()).transform_to(
            HeliographicStonyhurst(obstime=at.obstime)
        )
    nodes = []
    for observer in _observers(observers):
        with propagate_with_solar_surface(track.rotation):
            moved = surface.transform_to(HeliographicStonyhurst(obstime=observer.obstime))
            seen = moved.transform_to(Helioprojective(observer=observer, obstime=observer.obstime))
        sky = np.stack([seen.Tx.to_value(u.arcsec), seen.Ty.to_value(u.arcsec)], axis=-1)
        sky[~_visible(moved, observer)] = np.nan
        nodes.append(track.grid.pixels(sky).reshape(*col.shape, 2))
    return np.array(nodes)
