"""Shared fixtures: small synthetic level-1 series made by the project's generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aia_reloaded.synthetic import make_series

SMALL = 512  # pixels: the Sun at 8x the AIA plate scale
SMALL_SCALE = 0.6 * 4096 / SMALL


@pytest.fixture(scope="session")
def small_series(tmp_path_factory) -> Path:
    """Three 512 px triplets (noise-free), with truth.json."""
    folder = tmp_path_factory.mktemp("series")
    make_series(folder, 3, size=SMALL, noise=False, seed=1)
    return folder


@pytest.fixture(scope="session")
def small_truth(small_series) -> dict:
    """The generator's truth for small_series, by file name."""
    return json.loads((small_series / "truth.json").read_text())
