"""A synthetic Sun as SDO/AIA sees it in its EUV channels.

``SunModel(seed).emission(wavelength, tx, ty)`` gives DN/s per 0.6" pixel at helioprojective
(tx, ty) arcsec (west and north positive, disk centre at 0, 0). One seed fixes one Sun: active
regions (with 3-D loops), coronal holes, filaments and prominences sit at the same solar
positions in every channel. Each channel is rendered once, on first use, onto a fine raster
around the disk and a coarse raster of the extended corona; ``emission`` samples both with
``cv2.remap``. All structure is band-limited at about twice ``resolution``.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

SUPPORTED = (94, 131, 171, 193, 211, 304, 335)

_DEG = np.pi / 180
_CACHE_SIZE = 4  # channel rasters kept at once
_STRIP = 64  # raster rows rendered at a time
_CHUNK = 1 << 21  # points sampled at a time by emission()
_WIDTH = 2048  # row length of those points for cv2.remap
_SPICULE_PAD = 32  # columns repeated at each end of the (periodic) spicule texture


@dataclass(frozen=True)
class _Channel:
    """How one channel renders the common Sun; brightnesses are relative to `quiet`."""

    quiet: float  # quiet-Sun DN/s at disk centre
    logt: tuple[float, ...]  # log10 T of the loop-response peaks
    limb: float = 2.3  # limb brightening: limb / centre - 1
    hole: float = 0.3  # coronal-hole brightness
    network: float = 0.7  # log contrast of the network
    network_blur: float = 2.0  # arcsec
    mottle: float = 0.15  # log contrast of fine mottle
    patches: float = 0.2  # log contrast of large patches
    plage: float = 15.0  # active-region plage / moss peak
    plage_texture: float = 1.4  # texture contrast in plage relative to quiet Sun
    glow: float = 1.0  # diffuse active-region corona peak
    loops: float = 2.0  # loop brightness
    loop_width: float = 1.0  # loop Gaussian sigma, arcsec
    filament: float = 0.45  # absorption depth of filaments
    height: float = 40.0  # off-limb scale height, arcsec
    corona: float = 1.2  # off-limb corona at the limb
    streamer: float = 1.0  # extra corona above active latitudes
    rim: float = 0.0  # chromospheric spicule rim (304)
    prominence: float = 0.0  # prominence emission
    ceiling: float = 7500.0  # DN/s that the brightest structures approach, never reach


_CHANNELS = {
    171: _Channel(250, (5.85,)),
    193: _Channel(
        250,
        (6.2,),
        limb=1.5,
        hole=0.22,
        network=0.4,
        network_blur=4,
        mottle=0.1,
        patches=0.25,
        plage=4,
        plage_texture=0.8,
        glow=8,
        loops=0.3,
        loop_width=3.0,
        filament=0.5,
        height=60,
        corona=1.2,
        streamer=1.5,
    ),
    211: _Channel(
        60,
        (6.3,),
        limb=0.8,
        hole=0.15,
        network=0.35,
        network_blur=4,
        mottle=0.1,
        plage=4,
        plage_texture=0.7,
        glow=15,
        loops=1,
        loop_width=1.5,
        height=95,
        corona=1.4,
        streamer=2,
        ceiling=4500,
    ),
    335: _Channel(
        4,
        (6.45,),
        limb=0.7,
        hole=0.2,
        network=0.25,
        network_blur=4,
        mottle=0.1,
        plage=3,
        plage_texture=0.6,
        glow=20,
        loops=1.5,
        loop_width=1.5,
        filament=0.3,
        height=110,
        corona=1.3,
        streamer=2,
        ceiling=1500,
    ),
    94: _Channel(
        1.5,
        (6.05, 6.85),
        limb=0.5,
        hole=0.4,
        network=0.4,
        plage=4,
        plage_texture=0.8,
        glow=15,
        loops=3,
        loop_width=1.2,
        filament=0.2,
        height=90,
        corona=1.0,
        streamer=2,
        ceiling=400,
    ),
    131: _Channel(
        8, (5.6, 7.0), hole=0.5, network=0.9, plage=8, glow=4, loops=8, height=45, ceiling=1500
    ),
    304: _Channel(
        50,
        (5.0,),
        limb=0.25,
        hole=0.85,
        network=1.5,
        network_blur=1.5,
        mottle=0.2,
        patches=0.15,
        plage=10,
        plage_texture=1.6,
        glow=0,
        loops=2,
        loop_width=0.8,
        filament=0.75,
        height=120,
        corona=0.03,
        streamer=0.5,
        rim=1.6,
        prominence=1.5,
        ceiling=3000,
    ),
}


@dataclass(frozen=True)
class _Grid:
    """A square raster of n x n pixels of `step` arcsec centred on the disk centre."""

    n: int
    step: float

    @property
    def half(self) -> float:
        return self.n * self.step / 2

    def axis(self) -> np.ndarray:
        """Pixel-centre coordinates, arcsec (row index follows +ty, column index +tx)."""
        return ((np.arange(self.n) + 0.5) * self.step - self.half).astype(np.float32)

    def index(self, t: np.ndarray) -> np.ndarray:
        """Fractional pixel index of arcsec coordinate t."""
        return ((np.asarray(t, np.float32) + self.half) / self.step - 0.5).astype(np.float32)

    @classmethod
    def covering(cls, half: float, step: float, multiple: int = 1) -> _Grid:
        return cls(multiple * int(np.ceil(2 * half / step / multiple)), step)


@dataclass(frozen=True)
class _ActiveRegion:
    centre: np.ndarray  # unit vector
    lead: np.ndarray
    follow: np.ndarray
    strength: float
    separation: float  # radians
    clumps: np.ndarray  # (k, 5): unit vector, sigma (rad), weight


@dataclass(frozen=True)
class _Filament:
    spine: np.ndarray  # (m, 3) unit vectors along the spine, ~1 px apart
    base: np.ndarray  # (m,) bottom of the material above the surface, arcsec
    top: np.ndarray  # (m,) top of the material, arcsec


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) = (west, north, towards the observer) of heliographic lon, lat."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)], -1)


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _tangent_basis(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """West-ish and north-ish unit vectors tangent to the sphere at unit vector c."""
    east_west = _normalise(np.cross([0.0, 1.0, 0.0], c))
    return east_west, np.cross(c, east_west)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise (sigma in pixels), zero mean and unit variance, float32."""
    factor = max(1, int(sigma / 2))
    small = (shape[0] // factor + 4, shape[1] // factor + 4) if factor > 1 else shape
    noise = rng.standard_normal(small, dtype=np.float32)
    cv2.GaussianBlur(noise, (0, 0), sigma / factor, dst=noise, borderType=cv2.BORDER_REFLECT)
    if factor > 1:
        noise = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    noise -= noise.mean()
    noise /= noise.std() + 1e-12
    return noise


def _periodic_noise(rng: np.random.Generator, m: int, sigma: float) -> np.ndarray:
    """Periodic 1-D Gaussian-filtered noise of m samples (sigma in samples), unit variance."""
    spectrum = np.fft.rfft(rng.standard_normal(m))
    spectrum *= np.exp(-0.5 * (2 * np.pi * sigma * np.fft.rfftfreq(m)) ** 2)
    noise = np.fft.irfft(spectrum, m)
    return (noise - noise.mean()) / (noise.std() + 1e-12)


def _remap(image: np.ndarray, mx: np.ndarray, my: np.ndarray, cubic: bool = True) -> np.ndarray:
    """cv2.remap of `image` at 2-D float32 pixel maps, zero outside."""
    mode = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    return cv2.remap(image, mx, my, mode, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _splat(grid: _Grid, x: np.ndarray, y: np.ndarray, w: np.ndarray, sigma: float, out) -> None:
    """Add weights w at arcsec (x, y), spread bilinearly and by a Gaussian of sigma px, to out."""
    px, py = grid.index(x), grid.index(y)
    margin = int(np.ceil(4 * sigma)) + 2
    keep = (px >= 0) & (px < grid.n - 1) & (py >= 0) & (py < grid.n - 1) & (w != 0)
    if not keep.any():
        return
    px, py, w = px[keep], py[keep], w[keep]
    i, j = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - i, py - j
    x0, y0 = max(i.min() - margin, 0), max(j.min() - margin, 0)
    x1, y1 = min(i.max() + margin + 2, grid.n), min(j.max() + margin + 2, grid.n)
    width, size = x1 - x0, (x1 - x0) * (y1 - y0)
    flat = (j - y0) * width + (i - x0)
    corners = np.concatenate([flat, flat + 1, flat + width, flat + width + 1])
    shares = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    acc = np.bincount(corners, shares * np.tile(w, 4), minlength=size)
    local = acc.astype(np.float32).reshape(y1 - y0, width)
    if sigma > 0:
        cv2.GaussianBlur(local, (0, 0), sigma, dst=local, borderType=cv2.BORDER_CONSTANT)
    out[y0:y1, x0:x1] += local


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)
    return t * t * (3 - 2 * t)


def _logistic(t: np.ndarray) -> np.ndarray:
    """Logistic approximation of the normal CDF Phi(-t) (1 inside, 0 outside)."""
    return 1 / (1 + np.exp(np.clip(1.6 * t, -30, 30)))


class SunModel:
    """Emission of a synthetic Sun in DN/s per 0.6" pixel, as a function of helioprojective
    arcsec (see the module docstring)."""

    def __init__(self, seed: int = 0, rsun_arcsec: float = 960.0, resolution: float = 0.6):
        self.seed = int(seed)
        self.rsun = float(rsun_arcsec)
        self.resolution = float(resolution)
        r = self.rsun
        step = 1.25 * self.resolution
        self._fine = _Grid.covering(1.25 * r, step, 8)
        self._medium = _Grid(self._fine.n // 4, 4 * step)  # smooth surface fields
        self._outer = _Grid.covering(2.2 * r, float(np.clip(2 * step, 3, 12)))  # outer corona
        self._texture = _Grid.covering(np.pi / 2 * r + 20, max(1.2, 2 * self.resolution))
        self._regions = self._active_regions()
        self._filaments = self._filament_list()
        self._holes = self._hole_parameters()
        self._surface: dict[str, np.ndarray] = {}
        self._bases: dict[str, np.ndarray] = {}
        self._limb_luts: np.ndarray | None = None
        self._rasters: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def emission(self, wavelength: int, tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
        """float32 DN/s at helioprojective (tx, ty) in arcsec.

        tx and ty are arrays of the same shape, float32 or float64; the result has that shape.
        """
        rasters = self._channel_rasters(int(wavelength))
        tx, ty = np.asarray(tx), np.asarray(ty)
        if tx.shape != ty.shape:
            raise ValueError(f"tx and ty shapes differ: {tx.shape} != {ty.shape}")
        out = np.empty(tx.shape, np.float32)
        flat_x, flat_y, flat_out = tx.reshape(-1), ty.reshape(-1), out.reshape(-1)
        for start in range(0, flat_out.size, _CHUNK):
            x, y = flat_x[start : start + _CHUNK], flat_y[start : start + _CHUNK]
            rows = x.size // _WIDTH * _WIDTH  # remap wants 2-D maps: full rows, then the rest
            for lo, hi, width in ((0, rows, _WIDTH), (rows, x.size, x.size - rows)):
                if hi > lo:
                    xy = (x[lo:hi].reshape(-1, width), y[lo:hi].reshape(-1, width))
                    flat_out[start + lo : start + hi] = self._sample(rasters, *xy).reshape(-1)
        return out

    def _sample(
        self, rasters: tuple[np.ndarray, np.ndarray], tx: np.ndarray, ty: np.ndarray
    ) -> np.ndarray:
        """The channel rasters at 2-D arrays of helioprojective (tx, ty)."""
        fine, outer = rasters
        g, o = self._fine, self._outer
        mx = np.empty(tx.shape, np.float32)
        my = np.empty(tx.shape, np.float32)
        for m, t in ((mx, tx), (my, ty)):
            np.multiply(t, 1 / g.step, out=m, casting="same_kind")
            m += g.half / g.step - 0.5
        out = _remap(fine, mx, my)
        ratio = g.step / o.step  # fine-raster pixel index -> outer-raster pixel index
        for m in (mx, my):
            m *= ratio
            m += (o.half - g.half) / o.step + 0.5 * ratio - 0.5
        out += _remap(outer, mx, my)
        return np.maximum(out, 0, out=out)

    # ---------------------------------------------------------------- the Sun, from the seed

    def _rng(self, tag: str) -> np.random.Generator:
        """An independent generator per feature kind, so channels agree whatever their order."""
        return np.random.default_rng([self.seed, zlib.crc32(tag.encode())])

    def _active_regions(self) -> list[_ActiveRegion]:
        """3-5 regions on the disk in the activity belts, often one more near the limb."""
        rng = self._rng("active regions")
        spots: list[tuple[float, float]] = []
        n_disk = int(rng.integers(3, 6))
        limb = rng.random() < 0.7
        while len(spots) < n_disk + limb:
            lat = rng.choice([-1, 1]) * rng.uniform(8, 30)
            if len(spots) == n_disk:
                lon = rng.choice([-1, 1]) * rng.uniform(78, 96)
            else:
                lon = rng.uniform(-65, 65)
            c = _unit(lon * _DEG, lat * _DEG)
            if all(
                np.arccos(np.clip(c @ _unit(a * _DEG, b * _DEG), -1, 1)) > 24 * _DEG
                for a, b in spots
            ):
                spots.append((lon, lat))
        regions = []
        for k, (lon, lat) in enumerate(spots):
            strength = 1.0 if k == 0 else float(rng.uniform(0.35, 0.9))
            separation = rng.uniform(6, 9.5) * _DEG * np.sqrt(strength)
            tilt = rng.uniform(3, 15) * _DEG * np.sign(lat)  # Joy's law: leader nearer the equator
            c = _unit(lon * _DEG, lat * _DEG)
            west, north = _tangent_basis(c)
            axis = np.cos(tilt) * west - np.sin(tilt) * north
            lead = _normalise(c + axis * separation / 2)
            follow = _normalise(c - axis * separation / 2)
            clumps = []
            for pole, spread, count in ((lead, 0.2, 8), (follow, 0.35, 12)):
                sigma = spread * separation + 0.3 * _DEG
                for _ in range(count):
                    offset = rng.normal(0, sigma, 2)
                    centre = _normalise(pole + offset[0] * west + offset[1] * north)
                    size = sigma * rng.uniform(0.25, 0.7)
                    clumps.append([*centre, size, rng.uniform(0.3, 1.0)])
            regions.append(_ActiveRegion(c, lead, follow, strength, separation, np.array(clumps)))
        return regions

    def _hole_parameters(self) -> dict[str, np.ndarray]:
        """Polar-hole boundaries (harmonics in longitude) and perhaps a low-latitude hole."""
        rng = self._rng("coronal holes")
        polar = np.stack(
            [
                np.array([rng.uniform(58, 66), *rng.uniform(2, 5, 3)]),
                np.array([rng.uniform(58, 66), *rng.uniform(2, 5, 3)]),
            ]
        )
        phases = rng.uniform(0, 2 * np.pi, (2, 3))
        low = np.zeros(0)
        if rng.random() < 0.7:
            for _ in range(100):
                c = _unit(rng.uniform(-45, 45) * _DEG, rng.uniform(-25, 25) * _DEG)
                if all(
                    np.arccos(np.clip(c @ ar.centre, -1, 1)) > 25 * _DEG for ar in self._regions
                ):
                    low = np.array([*c, rng.uniform(6, 10) * _DEG, *rng.uniform(0, 2 * np.pi, 2)])
                    break
        return {"polar": polar, "phases": phases, "low": low}

    def _filament_list(self) -> list[_Filament]:
        """2-3 filaments on the disk and 1-3 prominences (hedgerows or arches) at the limb."""
        rng = self._rng("filaments")
        specs = []
        for _ in range(int(rng.integers(2, 4))):
            lat = rng.choice([-1, 1]) * rng.uniform(15, 50)
            specs.append((rng.uniform(-50, 50), lat, rng.uniform(15, 35), rng.uniform(15, 30)))
        for _ in range(int(rng.integers(1, 4))):
            lat = rng.uniform(-60, 60)
            lon = rng.choice([-1, 1]) * rng.uniform(86, 95)
            specs.append((lon, lat, rng.uniform(5, 12), rng.uniform(50, 100)))
        step = self._fine.step / self.rsun  # ~1 raster pixel between threads
        filaments = []
        for lon, lat, length, top in specs:
            c = _unit(lon * _DEG, lat * _DEG)
            west, north = _tangent_basis(c)
            angle = rng.uniform(-40, 40) if top < 35 else rng.uniform(50, 90) * rng.choice([-1, 1])
            along = np.cos(angle * _DEG) * west + np.sin(angle * _DEG) * north
            across = np.cross(c, along)
            half = length * _DEG / 2
            s = np.arange(-half, half, step)
            u = s / half
            bend = sum(
                rng.normal(0, 0.1 / k) * np.sin(k * np.pi * u + rng.uniform(0, 2 * np.pi))
                for k in (1, 2, 3)
            )
            spine = _normalise(c + s[:, None] * along + (bend * half)[:, None] * across)
            ripple = 1 + 0.2 * _periodic_noise(rng, s.size, 0.4 / (length * _DEG) * s.size)
            if top > 35 and rng.random() < 0.4:  # an arch: a band of material over the spine
                centre = top * np.sqrt(np.clip(1 - u**2, 0, 1)) * ripple
                thick = rng.uniform(0.2, 0.35) * top
                filaments.append(_Filament(spine, np.maximum(centre - thick, 0), centre + thick))
            else:
                envelope = np.clip(1 - u**2, 0, 1) ** rng.uniform(0.15, 0.5)
                filaments.append(_Filament(spine, np.zeros_like(u), top * envelope * ripple))
        return filaments

    # ---------------------------------------------------------------- surface fields

    def _hole_field(self, v: np.ndarray) -> np.ndarray:
        """Coronal-hole fraction (0..1) at unit vectors v (..., 3)."""
        h = self._holes
        lat = np.arcsin(np.clip(v[..., 1], -1, 1))
        lon = np.arctan2(v[..., 0], v[..., 2])
        field = np.zeros(v.shape[:-1])
        for sign, (b0, *amps), phases in zip((1, -1), h["polar"], h["phases"], strict=True):
            edge = b0 + sum(
                a * np.sin((k + 1) * lon + p)
                for k, (a, p) in enumerate(zip(amps, phases, strict=True))
            )
            field = np.maximum(field, _smoothstep((sign * lat / _DEG - edge) / 3 + 0.5))
        if h["low"].size:
            c, radius, p2, p3 = h["low"][:3], h["low"][3], h["low"][4], h["low"][5]
            e1, e2 = _tangent_basis(c)
            dist = np.arccos(np.clip(v @ c, -1, 1))
            phi = np.arctan2(v @ e2, v @ e1)
            edge = radius * (1 + 0.25 * np.sin(2 * phi + p2) + 0.15 * np.sin(3 * phi + p3))
            field = np.maximum(field, _smoothstep((edge - dist) / (3 * _DEG) + 0.5))
        return field

    def _activity(self, v: np.ndarray, widen: float) -> np.ndarray:
        """Active-region envelope at unit vectors v, clumps widened by `widen`; peak ~ strength."""

        def envelope(ar: _ActiveRegion, points: np.ndarray) -> np.ndarray:
            total = np.zeros(len(points), np.float32)
            for cx, cy, cz, sigma, weight in ar.clumps:
                chord2 = 2 - 2 * (points @ np.array([cx, cy, cz], np.float32))
                total += weight * np.exp(chord2 / np.float32(-2 * (widen * sigma) ** 2))
            return total

        total = np.zeros(v.shape[:-1])
        for ar in self._regions:
            near = np.arccos(np.clip(v @ ar.centre, -1, 1)) < 4 * widen * ar.separation + 0.2
            if near.any():
                peak = envelope(ar, ar.clumps[:, :3]).max()
                total[near] += ar.strength / peak * envelope(ar, v[near])
        return total

    def _surface_fields(self) -> dict[str, np.ndarray]:
        """Hole fraction, plage and glow envelopes on the medium grid (clamped at the limb)."""
        if not self._surface:
            g = self._medium
            a = g.axis() / np.float32(self.rsun)
            x, y = np.meshgrid(a, a)
            rho = np.hypot(x, y)
            scale = np.where(rho > 1, 1 / np.maximum(rho, 1e-9), 1)
            x, y = x * scale, y * scale
            v = np.stack([x, y, np.sqrt(np.clip(1 - x**2 - y**2, 0, 1))], -1)
            rng = self._rng("hole edges")
            size = 6 * _DEG * self.rsun / g.step
            wobble = [2.5 * _DEG * _smooth_noise(rng, (g.n, g.n), size) for _ in range(2)]
            wobble = np.stack([*wobble, np.zeros_like(wobble[0])], -1)  # irregular hole edges
            self._surface = {
                "hole": self._hole_field(_normalise(v + wobble)).astype(np.float32),
                "plage": self._activity(v, 1.0).astype(np.float32),
                "glow": self._activity(v, 2.2).astype(np.float32),
            }
        return self._surface

    def _limb_tables(self) -> np.ndarray:
        """Tables in position angle: hole, streamer, ray noise, spicule height (1, m, 4)."""
        if self._limb_luts is None:
            m = 2048
            theta = (np.arange(m) + 0.5) * 2 * np.pi / m - np.pi
            z = np.linspace(-0.45, 0.45, 13)
            weight = np.exp(-0.5 * (z / 0.2) ** 2)
            weight /= weight.sum()
            c = np.sqrt(1 - z**2)
            v = np.stack(
                np.broadcast_arrays(
                    np.cos(theta)[:, None] * c, np.sin(theta)[:, None] * c, z[None, :]
                ),
                -1,
            )
            hole = self._hole_field(v) @ weight
            streamer = np.minimum(self._activity(v, 4.0) @ weight, 1.5)
            rng = self._rng("limb")
            rays = _periodic_noise(rng, m, 2.0) + _periodic_noise(rng, m, 5.0)
            spicules = _periodic_noise(rng, m, 3 * m * self._fine.step / (2 * np.pi * self.rsun))
            table = np.stack([hole, streamer, rays / np.sqrt(2), spicules], -1).astype(np.float32)
            self._limb_luts = np.concatenate([table[-4:], table, table[:4]])[None]
        return self._limb_luts

    def _limb_lookup(self, theta: np.ndarray) -> np.ndarray:
        """The limb tables at position angles theta (radians), (..., 4)."""
        table = self._limb_tables()
        m = table.shape[1] - 8
        mx = ((theta + np.pi) * (m / (2 * np.pi)) + 3.5).astype(np.float32)
        return _remap(table, mx, np.zeros_like(mx), cubic=False)

    # ---------------------------------------------------------------- textures

    def _base_textures(self) -> dict[str, np.ndarray]:
        """Network lanes (0..1), fine mottle and large patches on the texture grid (float16).

        The texture grid is the azimuthal-equidistant unfolding of the visible hemisphere,
        so sampling it at the unfolded position of each disk point foreshortens it correctly.
        """
        if not self._bases:
            g = self._texture
            rng = self._rng("textures")
            self._bases["network"] = self._network(rng).astype(np.float16)
            fine = max(2.0, g.step) / g.step
            self._bases["mottle"] = _smooth_noise(rng, (g.n, g.n), fine).astype(np.float16)
            patches = _smooth_noise(rng, (g.n, g.n), 10 / g.step)
            patches += 0.8 * _smooth_noise(rng, (g.n, g.n), 30 / g.step)
            self._bases["patches"] = (patches / np.hypot(1, 0.8)).astype(np.float16)
        return self._bases

    def _network(self, rng: np.random.Generator) -> np.ndarray:
        """Supergranular network: lanes of a jittered Voronoi tiling (~30" cells), warped and
        broken into bright elements."""
        g = self._texture
        cell = 30 / g.step
        k = int(np.ceil(g.n / cell)) + 1
        centres = (np.arange(k) + 0.5) * cell
        cx = centres[None, :] + rng.uniform(-0.4, 0.4, (k, k)) * cell
        cy = centres[:, None] + rng.uniform(-0.4, 0.4, (k, k)) * cell
        seeds = np.ones((g.n, g.n), np.uint8)
        ok = (cx >= 0) & (cx < g.n) & (cy >= 0) & (cy < g.n)
        seeds[cy[ok].astype(int), cx[ok].astype(int)] = 0
        _, labels = cv2.distanceTransformWithLabels(
            seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
        )
        del seeds
        edges = np.ones((g.n, g.n), np.uint8)
        edges[:, 1:][labels[:, 1:] != labels[:, :-1]] = 0
        edges[1:, :][labels[1:, :] != labels[:-1, :]] = 0
        del labels
        dist = cv2.distanceTransform(edges, cv2.DIST_L2, 5)
        del edges
        lane = max(2.5, 1.2 * g.step) / g.step
        dist *= 1 / lane
        np.square(dist, out=dist)
        dist *= -0.5
        lanes = np.exp(dist, out=dist)
        # warp the straight Voronoi edges into wiggly lanes
        a = np.arange(g.n, dtype=np.float32)
        mx = _smooth_noise(rng, (g.n, g.n), 8 / g.step)
        mx *= 3 / g.step
        mx += a[None, :]
        my = _smooth_noise(rng, (g.n, g.n), 8 / g.step)
        my *= 3 / g.step
        my += a[:, None]
        lanes = cv2.remap(lanes, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        del mx, my
        grains = _smooth_noise(rng, (g.n, g.n), max(3.0, g.step) / g.step)
        grains *= 0.5
        grains += 0.6
        np.clip(grains, 0.1, None, out=grains)
        lanes *= grains
        del grains
        clusters = _smooth_noise(rng, (g.n, g.n), 40 / g.step)
        clusters *= 0.3
        lanes *= np.exp(clusters, out=clusters)
        del clusters
        lanes *= -1.4  # saturate: 0..1
        np.exp(lanes, out=lanes)
        np.subtract(1, lanes, out=lanes)
        return lanes

    def _channel_texture(self, ch: _Channel) -> np.ndarray:
        """Log-brightness texture of the channel's quiet Sun on the texture grid."""
        b = self._base_textures()
        net = b["network"].astype(np.float32)
        if ch.network_blur > 0:
            cv2.GaussianBlur(net, (0, 0), ch.network_blur / self._texture.step, dst=net)
        net -= net.mean()
        net *= ch.network
        for name, weight in (("mottle", ch.mottle), ("patches", ch.patches)):
            part = b[name].astype(np.float32)
            part *= weight
            net += part
            del part
        return net

    # ---------------------------------------------------------------- channel rendering

    def _channel_rasters(self, wavelength: int) -> tuple[np.ndarray, np.ndarray]:
        """The channel's (fine, outer) rasters, rendered on first use, least recent dropped."""
        if wavelength not in _CHANNELS:
            raise ValueError(f"unsupported wavelength {wavelength}; choose from {SUPPORTED}")
        if wavelength in self._rasters:
            self._rasters.move_to_end(wavelength)
        else:
            if len(self._rasters) >= _CACHE_SIZE:
                self._rasters.popitem(last=False)
            self._rasters[wavelength] = self._render(wavelength)
        return self._rasters[wavelength]

    def _render(self, wavelength: int) -> tuple[np.ndarray, np.ndarray]:
        """The fine raster (disk and inner corona) and the outer-corona raster of a channel."""
        ch = _CHANNELS[wavelength]
        g = self._fine
        fine = np.zeros((g.n, g.n), np.float32)
        self._filament_absorption(fine)  # each strip reads its rows before overwriting them
        texture = self._channel_texture(ch)
        sample = texture[:: max(1, texture.shape[0] // 512), :: max(1, texture.shape[1] // 512)]
        gains = np.linspace(0, max(1.0, ch.plage_texture), 17)
        log_norm = np.log([np.mean(np.exp(k * sample)) for k in gains]).astype(np.float32)
        spicules = self._spicule_texture() if ch.rim else None
        for r0 in range(0, g.n, _STRIP):
            r1 = min(r0 + _STRIP, g.n)
            fine[r0:r1] = self._render_strip(
                ch, r0, r1, texture, gains, log_norm, fine[r0:r1], spicules
            )
        del texture
        self._add_loops(ch, fine)
        if ch.prominence:
            self._add_prominences(ch, fine)
        # soft ceiling: AIA does not saturate outside flares
        knee = 0.6 * ch.ceiling
        bright = fine > knee
        fine[bright] = knee + (ch.ceiling - knee) * np.tanh(
            (fine[bright] - knee) / (ch.ceiling - knee)
        )
        o = self._outer
        a = o.axis()
        outer = np.empty((o.n, o.n), np.float32)
        for r0 in range(0, o.n, _STRIP):
            x, y = a[None, :], a[r0 : r0 + _STRIP, None]
            rho = np.hypot(x, y)
            limb = self._limb_lookup(np.arctan2(*np.broadcast_arrays(y, x)))
            outer[r0 : r0 + _STRIP] = self._corona(ch, rho, limb) * (1 - self._taper(rho))
        return fine, outer

    def _taper(self, rho: np.ndarray) -> np.ndarray:
        """1 inside 1.16 R, 0 beyond 1.23 R: the fine raster's share of the image."""
        return 1 - _smoothstep((rho / self.rsun - 1.16) / 0.07)

    def _corona(self, ch: _Channel, rho: np.ndarray, limb: np.ndarray) -> np.ndarray:
        """Optically thin off-limb corona at radius rho (arcsec) with streamers, holes and rays."""
        hole, streamer, rays = limb[..., 0], limb[..., 1], limb[..., 2]
        h = np.maximum(rho - self.rsun, 0)
        scale = ch.height * (1 + 0.6 * streamer - 0.3 * hole)
        bright = (1 - (1 - ch.hole) * hole) * (1 + ch.streamer * streamer)
        bright *= 1 + (0.05 + 0.15 * hole) * rays
        radial = 0.85 * np.exp(-h / scale) + 0.15 * np.exp(-h / (3 * scale))
        return (ch.quiet * ch.corona) * bright * radial

    def _render_strip(
        self,
        ch: _Channel,
        r0: int,
        r1: int,
        texture: np.ndarray,
        gains: np.ndarray,
        log_norm: np.ndarray,
        absorption: np.ndarray,
        spicules: np.ndarray | None,
    ) -> np.ndarray:
        """Rows r0:r1 of a channel's fine raster (without loops and prominences)."""
        g, r = self._fine, self.rsun
        a = g.axis()
        x, y = a[None, :] / r, a[r0:r1, None] / r
        rho = np.sqrt(x * x + y * y)
        mu = np.sqrt(np.maximum(1 - rho * rho, 0))
        # quiet Sun: texture sampled at the unfolded (azimuthal-equidistant) position
        unfold = np.arcsin(np.minimum(rho, 1)) / np.maximum(rho, 1e-6) * r
        t = self._texture
        tex = _remap(texture, t.index(x * unfold), t.index(y * unfold))
        damp = np.clip(mu / (0.15 + 0.4 * g.step), 0, 1)  # no texture finer than the raster
        tex *= damp
        quiet = np.exp(tex - np.interp(damp, gains, log_norm).astype(np.float32))
        m = self._medium
        fields = self._surface_fields()
        mxm = np.broadcast_to(m.index(a)[None, :], rho.shape)
        mym = np.broadcast_to(m.index(a[r0:r1])[:, None], rho.shape)
        mxm, mym = np.ascontiguousarray(mxm), np.ascontiguousarray(mym)
        hole = _remap(fields["hole"], mxm, mym)
        hole *= 0.15 + 0.85 * np.minimum(mu / 0.5, 1)  # near the limb the sight line mixes
        plage = np.maximum(_remap(fields["plage"], mxm, mym), 0)
        glow = np.maximum(_remap(fields["glow"], mxm, mym), 0)
        k = np.clip(ch.plage_texture * damp, 0, gains[-1])
        texture_gain = np.exp(
            ch.plage_texture * tex - np.interp(k, gains, log_norm).astype(np.float32)
        )
        glow *= np.sqrt(texture_gain)
        disk = quiet * (1 - (1 - ch.hole) * hole) + ch.plage * plage * texture_gain + ch.glow * glow
        mu_c = 0.2  # limb brightening of an optically thin layer, capped at the limb
        disk *= ch.quiet * (1 + ch.limb * (1 / np.sqrt(mu * mu + mu_c**2) - 1) / (1 / mu_c - 1))
        disk *= 1 - ch.filament * absorption
        # off-limb
        theta = np.arctan2(np.broadcast_to(y, rho.shape), np.broadcast_to(x, rho.shape))
        limb = self._limb_lookup(theta)
        rho_as = rho * r
        off = self._corona(ch, rho_as, limb)
        edge = r
        if ch.rim:
            edge = r + 2.0
            h = rho_as - r
            height = 5.0 * np.maximum(1 + 0.25 * limb[..., 3], 0.4)
            spic = _remap(spicules, *self._polar_maps(theta, h))
            rim = np.exp(-np.maximum(h, 0) / height) * np.maximum(1 + 0.4 * spic, 0)
            rim *= ch.rim * ch.quiet
            off += rim
        else:
            off *= 1 - 0.6 * ch.filament * absorption
        inside = _logistic((rho_as - edge) / (1.5 * self.resolution))
        out = disk * inside + off * (1 - inside)
        out *= self._taper(rho_as)
        return out

    def _spicule_texture(self) -> np.ndarray:
        """Radially elongated noise along the limb (columns: arc length, rows: height -10..60")."""
        g = self._fine
        cols = int(np.ceil(2 * np.pi * self.rsun / g.step))
        rows = int(np.ceil(70 / g.step))
        rng = self._rng("spicules")
        pad = _SPICULE_PAD
        noise = rng.standard_normal((rows + 2 * pad, cols + 2 * pad), dtype=np.float32)
        noise[:, :pad] = noise[:, cols : cols + pad]
        noise[:, -pad:] = noise[:, pad : 2 * pad]
        sx = max(1.0, 0.9 * self.resolution / g.step)
        sy = max(sx, 3.0 / g.step)
        cv2.GaussianBlur(noise, (0, 0), sigmaX=sx, sigmaY=sy, dst=noise)
        noise = noise[pad:-pad]
        noise /= noise.std()
        return noise

    def _polar_maps(self, theta: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spicule-texture pixel coordinates of position angle theta, height h (arcsec)."""
        step = self._fine.step
        mx = ((theta + np.pi) * (self.rsun / step) + _SPICULE_PAD - 0.5).astype(np.float32)
        my = ((h + 10) / step - 0.5).astype(np.float32)
        return mx, my

    # ---------------------------------------------------------------- 3-D structures

    def _filament_points(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Visible thread points of each filament: x, y (arcsec) and a weight per point.

        Each spine point carries one thread: leaning, wiggling, knotted, of ragged height.
        """
        rng = self._rng("filament threads")
        r = self.rsun
        ds = 0.5 * self._fine.step
        points = []
        for fil in self._filaments:
            m = len(fil.spine)
            tangent = _normalise(np.gradient(fil.spine, axis=0))
            across = np.cross(fil.spine, tangent)
            width = 1.5 + 4 * fil.top / fil.top.max()  # arcsec: wider where it is taller
            top = fil.base + (fil.top - fil.base) * rng.uniform(0.6, 1.0, m)
            counts = np.maximum(((top - fil.base) / ds).astype(int), 1)
            idx = np.repeat(np.arange(m), counts)
            step = np.arange(idx.size) - np.repeat(np.cumsum(counts) - counts, counts)
            height = fil.base[idx] + (step + 0.5) * ds
            wiggle = rng.uniform(5, 20, m)[idx]
            phase = rng.uniform(0, 2 * np.pi, m)[idx]
            side = rng.normal(0, 1, m)[idx] * width[idx] + np.sin(height / wiggle + phase)
            lean = rng.normal(0, 0.1, m)[idx] * height
            p = (
                fil.spine[idx] * (r + height)[:, None]
                + across[idx] * side[:, None]
                + tangent[idx] * lean[:, None]
            )
            knots = 0.65 + 0.35 * np.sin(height / (0.5 * wiggle) + 2 * phase)
            w = rng.lognormal(0, 0.4, m)[idx] * knots
            x, y, z = p.T
            visible = (x * x + y * y > r * r) | (z > 0)
            points.append((x[visible], y[visible], w[visible]))
        return points

    def _filament_absorption(self, out: np.ndarray) -> None:
        """Absorption fraction (0..1) of filament and prominence material, into out."""
        sigma = max(1.0, 1.5 / self._fine.step)
        for x, y, w in self._filament_points():
            _splat(self._fine, x, y, w, sigma, out)
        out *= -1.5
        np.exp(out, out=out)
        np.subtract(1, out, out=out)

    def _add_prominences(self, ch: _Channel, out: np.ndarray) -> None:
        """Prominence emission above the limb."""
        g = self._fine
        for x, y, w in self._filament_points():
            rho = np.hypot(x, y)
            w *= _smoothstep((rho - self.rsun) / 4) * self._taper(rho) * ch.prominence * ch.quiet
            _splat(g, x, y, 0.25 * w, max(1.0, 1.3 * self.resolution / g.step), out)  # threads
            _splat(g, x, y, 0.15 * w, max(1.0, 4 / g.step), out)  # and a diffuse body

    def _loops(self, ar: _ActiveRegion, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Loop footpoints, heights (R), inclinations, log T, brightness of one region.

        Guide loops (a hot core arcade across the neutral line, warm and cool loops, and fans
        of cool loops spreading from the region's edges) are each split into strands.
        """
        axis = _normalise(ar.lead - ar.follow)
        axis = _normalise(axis - (axis @ ar.centre) * ar.centre)
        perp = np.cross(ar.centre, axis)
        d = ar.separation
        shear = rng.uniform(-0.4, 0.4) * d
        guides = []
        for n, reach, spread, skew, lift, logt, sd in (
            (int(25 * ar.strength) + 8, (0.2, 1.1), 0.25, 1.0, (0.5, 1.0), 6.45, 0.1),
            (int(15 * ar.strength) + 6, (0.5, 1.9), 0.4, 0.6, (0.6, 1.1), 6.15, 0.05),
            (8, (0.1, 0.7), 0.3, 0.0, (0.3, 0.6), 5.3, 0.08),
        ):
            b = rng.normal(0, spread * d, n)
            guides.append(
                [
                    d / 2 * rng.uniform(*reach, n),
                    b,
                    -d / 2 * rng.uniform(*reach, n),
                    b + skew * shear + rng.normal(0, 0.1 * d, n),
                    rng.uniform(*lift, n),
                    rng.normal(logt, sd, n),
                    np.zeros(n),
                ]
            )
        n = int(10 * ar.strength) + 5
        sign = np.where(rng.random(n) < 0.4, 1.0, -1.0)  # leading or following edge
        direction = rng.uniform(-1.1, 1.1, n)
        a1 = sign * 0.6 * d + rng.normal(0, 0.12 * d, n)
        b1 = rng.normal(0, 0.2 * d, n)
        reach = rng.uniform(5, 14, n) * _DEG
        fans = [a1, b1, a1 + sign * reach * np.cos(direction), b1 + reach * np.sin(direction)]
        guides.append([*fans, rng.uniform(0.4, 0.8, n), rng.normal(5.9, 0.04, n), reach])
        a1, b1, a2, b2, lift, logt, spread = (np.concatenate(g) for g in zip(*guides, strict=True))
        strands = 8
        idx = np.repeat(np.arange(len(a1)), strands)
        m = len(idx)
        near = 0.025 * d
        far = np.maximum(0.12 * spread[idx], near)  # fans diverge from a compact base
        p1 = _normalise(
            ar.centre
            + (a1[idx] + rng.normal(0, near, m))[:, None] * axis
            + (b1[idx] + rng.normal(0, near, m))[:, None] * perp
        )
        p2 = _normalise(
            ar.centre
            + (a2[idx] + rng.normal(0, 1, m) * far)[:, None] * axis
            + (b2[idx] + rng.normal(0, 1, m) * far)[:, None] * perp
        )
        sep = np.arccos(np.clip(np.sum(p1 * p2, -1), -1, 1))
        incline = rng.uniform(-35, 35, len(a1))[idx] + rng.normal(0, 2, m)
        return {
            "p1": p1,
            "p2": p2,
            "height": sep / 2 * lift[idx] * rng.normal(1, 0.04, m),
            "incline": incline * _DEG,
            "logt": logt[idx] + rng.normal(0, 0.03, m),
            "bright": rng.lognormal(0, 0.6, len(a1))[idx] * rng.lognormal(0, 0.4, m),
            "fan": (spread[idx] > 0).astype(int),
        }

    def _add_loops(self, ch: _Channel, out: np.ndarray) -> None:
        """Optically thin loops of every active region, as this channel sees them."""
        g = self._fine
        width = ch.loop_width / g.step  # pixels; coarser rasters spread the same flux wider
        sigma = max(width, 1.0)  # at least 1.25 resolution
        for k, ar in enumerate(self._regions):
            loops = self._loops(ar, self._rng(f"loops {k}"))
            response = sum(np.exp(-0.5 * ((loops["logt"] - t) / 0.15) ** 2) for t in ch.logt)
            intensity = ch.loops * ch.quiet * ar.strength * loops["bright"] * response
            keep = np.flatnonzero(intensity > 1e-3 * ch.quiet)
            for batch in np.array_split(keep, -(-len(keep) // 64)):
                x, y, w, index = self._loop_points({key: v[batch] for key, v in loops.items()})
                w *= intensity[batch][index] * np.sqrt(2 * np.pi) * width
                _splat(g, x, y, w, sigma, out)

    def _loop_points(self, loops: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Points ~half a raster pixel apart along loops: x, y (arcsec), weight, loop index.

        A weight is the point's share of the loop's line density on the sky: a loop of unit
        intensity becomes a line of unit peak after a unit-area blur.
        """
        r = self.rsun
        ds = 0.5 * self._fine.step
        p1, p2, lift, incline = loops["p1"], loops["p2"], loops["height"], loops["incline"]
        alpha = np.arccos(np.clip(np.sum(p1 * p2, -1), -1, 1))
        a, b = alpha / 2, lift
        length = np.pi * (3 * (a + b) - np.sqrt((3 * a + b) * (a + 3 * b))) / 2 * r
        counts = np.maximum(np.ceil(length / ds).astype(int), 2)
        idx = np.repeat(np.arange(len(p1)), counts)
        t = np.arange(idx.size) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5
        t /= counts[idx]
        al = alpha[idx]
        q = np.sin((1 - t) * al)[:, None] * p1[idx] + np.sin(t * al)[:, None] * p2[idx]
        q /= np.maximum(np.sin(al), 1e-9)[:, None]
        normal = _normalise(np.cross(p1, p2) + 1e-12)[idx]
        up = lift[idx] * np.sin(np.pi * t)
        pts = q * (1 + up * np.cos(incline[idx]))[:, None]
        pts += normal * (up * np.sin(incline[idx]))[:, None]
        pts *= r
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        rho = np.hypot(x, y)
        # loops are tubes of finite width: legs seen end-on brighten only moderately
        step = np.gradient(pts, axis=0)
        on_sky = np.hypot(step[:, 0], step[:, 1]) / np.maximum(np.linalg.norm(step, axis=1), 1e-9)
        w = (0.3 + 0.7 * on_sky) * ((rho > r) | (z > 0)) * self._taper(rho) * (ds / self._fine.step)
        # cool fan loops fade with height
        fan = loops["fan"][idx] == 1
        w[fan] *= np.exp(-(np.linalg.norm(pts[fan], axis=1) - r) / 20)
        return x, y, w, idx
