"""AIA-reloaded: calibrated, colour-composited image series and movies of the Sun from SDO/AIA."""

__version__ = "0.1.0"
