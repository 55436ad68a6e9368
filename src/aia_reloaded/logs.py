"""Logging for the workflow's scripts: everything a job says goes to its log file."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def log_to(path: str | Path):
    """Send logging and stderr to `path` for the duration of a job.

    A bad input file or a failed write (full disk, no permission) ends the job with a
    one-line error naming the file; anything else with a traceback in the log.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    failure = None
    with open(path, "w") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        stderr, sys.stderr = sys.stderr, stream
        try:
            yield
        except (OSError, ValueError, RuntimeError) as error:  # InputError, disk, ffmpeg
            logging.error("%s", error)
            failure = error
        except Exception:
            logging.exception("job failed")
            raise
        finally:
            sys.stderr = stderr
            root.removeHandler(handler)
    if failure is not None:
        raise SystemExit(f"error: {failure}")
