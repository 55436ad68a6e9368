"""cadence_s: pairing keeps the triplet nearest each step of a fixed time grid."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate
from workflow_run import REPO, make_workdir, snakemake

from aia_reloaded.configuration import ConfigError, check_schema
from aia_reloaded.pairing import TIME_FORMAT, Triplet, thin
from aia_reloaded.synthetic import jsoc_name
from aia_reloaded.writing import read_csv

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
START = datetime(2012, 8, 31, 19, 45, 0, tzinfo=UTC)


def triplets_at(times: list[datetime]) -> list[Triplet]:
    return [Triplet(t.strftime(TIME_FORMAT), (f"{t:%H%M%S}.fits",)) for t in times]


def nearest_each_step(times: list[datetime], cadence_s: float) -> list[datetime]:
    """The same rule, the slow way: each grid step's nearest time within cadence_s / 2."""
    kept, step = [], timedelta(seconds=cadence_s)
    grid = times[0]
    while grid <= times[-1]:
        best = min(times, key=lambda t: (abs(t - grid), t))
        if abs(best - grid) <= step / 2 and best not in kept:
            kept.append(best)
        grid += step
    return kept


def names(times: list[datetime]) -> list[str]:
    return [t.strftime(TIME_FORMAT) for t in times]


def test_thin_keeps_the_triplet_nearest_each_minute():
    rng = random.Random(3)
    # an hour at 12 s with up to 4 s of jitter, and a gap from 19:36 to 25:24 (slots 98-127)
    slots = [i for i in range(300) if not 98 <= i < 128]
    times = [START + timedelta(seconds=12 * i + rng.randint(-4, 4)) for i in slots]
    kept = thin(reversed(triplets_at(times)), 60)  # any order in, time order out

    assert [t.name for t in kept] == names(nearest_each_step(times, 60))
    first = min(times)
    seconds = [
        (datetime.strptime(t.name, TIME_FORMAT).replace(tzinfo=UTC) - first).total_seconds()
        for t in kept
    ]
    minutes = [round(s / 60) for s in seconds]
    # minutes 20-25 have no triplet within 30 s: they keep nothing
    assert minutes == [*range(20), *range(26, 60)]
    assert all(abs(s - 60 * m) <= 30 for s, m in zip(seconds, minutes, strict=True))
    assert len(kept) == 54 and len(times) - len(kept) == 216


def test_thin_without_jitter_keeps_one_in_five():
    times = [START + timedelta(seconds=12 * i) for i in range(300)]
    kept = thin(triplets_at(times), 60)
    assert [t.name for t in kept] == names([START + timedelta(minutes=m) for m in range(60)])
    assert thin(triplets_at(times), None) == triplets_at(times)
    assert thin([], 60) == []


def test_thin_edge_cases():
    def kept(*seconds: float) -> list[str]:
        times = [START + timedelta(seconds=s) for s in seconds]
        return [t.name for t in thin(triplets_at(times), 60)]

    def at(*seconds: float) -> list[str]:
        return names([START + timedelta(seconds=s) for s in seconds])

    # 90 s is half a step from minutes 1 and 2: kept once; minutes 3 and 4 keep nothing
    assert kept(0, 90, 300) == at(0, 90, 300)
    assert kept(0, 35, 80) == at(0, 80)  # minute 1: 80 s is nearer than 35 s
    assert kept(0, 40, 80) == at(0, 40)  # a tie: the earlier
    assert kept(0, 30) == at(0)  # the grid ends at the last triplet: no step at 60 s


def test_pairing_with_cadence_leaves_triplets_out_without_skipping_them(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    # four minutes of 12 s triplets (pairing reads only the JSOC names), and a lone 304
    anchors = [START + timedelta(seconds=12 * i) for i in range(20)]
    for anchor in anchors:
        for offset, wavelength in enumerate((304, 171, 193)):
            (data / jsoc_name(wavelength, anchor + timedelta(seconds=offset))).touch()
    lone = data / jsoc_name(304, START + timedelta(seconds=400))
    lone.touch()

    workdir = make_workdir(tmp_path / "run", input_dir=str(data), cadence_s=60)
    snakemake(workdir, "results/triplets.csv")
    results = workdir / "results"

    kept = [row["triplet"] for row in read_csv(results / "triplets.csv")]
    assert kept == [(START + timedelta(minutes=m)).strftime(TIME_FORMAT) for m in range(4)]
    skipped = read_csv(results / "skipped" / "pairing.csv")
    assert [Path(row["file"]).name for row in skipped] == [lone.name]
    log = (results / "logs" / "triplets.log").read_text()
    assert "paired 20 triplets; 16 left out by cadence_s 60, 4 kept" in log


def test_a_config_without_cadence_s_keeps_every_triplet():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    del config["cadence_s"]
    check_schema(config, SCHEMA)
    validate(config, str(SCHEMA))
    assert config["cadence_s"] is None
    with pytest.raises(ConfigError, match=r"cadence_s: 0 is not allowed; it must be > 0\."):
        check_schema({**config, "cadence_s": 0}, SCHEMA)
