"""Checking a workflow configuration: one clear sentence per mistake, before anything runs."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from aia_reloaded import pairing, perceptual, reading, video


class ConfigError(ValueError):
    """A configuration value that is not allowed; the message names key, value and rule."""


def _key(path) -> str:
    """A config key path as users write it: levels.low[1]."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "the configuration"


def _allowed(error: jsonschema.ValidationError) -> str:
    """What the schema allows where `error` failed, in words."""
    rule, value, schema = error.validator, error.validator_value, error.schema
    if rule in ("minItems", "maxItems") and schema.get("minItems") == schema.get("maxItems"):
        return f"must have exactly {value} entries"
    if rule == "type":
        return f"must be of type {' or '.join(value) if isinstance(value, list) else value}"
    words = {
        "minimum": f"must be >= {value}",
        "maximum": f"must be <= {value}",
        "exclusiveMinimum": f"must be > {value}",
        "exclusiveMaximum": f"must be < {value}",
        "minItems": f"must have at least {value} entries",
        "maxItems": f"must have at most {value} entries",
        "enum": f"must be one of {', '.join(map(str, value))}" if rule == "enum" else "",
        "pattern": f"must match {value}",
    }
    return words.get(rule, error.message)


def check_schema(config: Mapping, schema_path: str | Path) -> None:
    """Raise ConfigError, in one sentence, on the first value the schema does not allow."""
    _check_against(config, yaml.safe_load(Path(schema_path).read_text()))


def _check_against(config: Mapping, schema: dict) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        where = _key(error.absolute_path)
        where = "" if where == "the configuration" else f" in {where}"
        raise ConfigError(
            f"config: unknown key {', '.join(unknown)}{where}; allowed keys are {', '.join(known)}."
        )
    if error.validator == "required":
        raise ConfigError(f"config {_key(error.absolute_path)}: {error.message}.")
    raise ConfigError(
        f"config key {_key(error.absolute_path)}: {error.instance!r} is not allowed; it "
        f"{_allowed(error)}."
    )


def look(config: Mapping) -> dict:
    """The colour keys of a configuration: `compose` and the keywords of its frame function.

    rgb_mix: colour.rgb_frame's; perceptual: perceptual.perceptual_frame's.
    """
    if config["compose"] == "perceptual":
        keywords = perceptual.perceptual_look(config["channels"], config["perceptual"])
        return {"compose": "perceptual", **keywords, "box": config["crop"]}
    lab = config["lab"]
    return {
        "compose": "rgb_mix",
        "matrix": config["mix"],
        "scalemin": config["scalemin"],
        "lab": lab["factors"] if lab["enabled"] else None,
        "lmin": lab["lmin"],
        "box": config["crop"],
    }


def enhancements(config: Mapping) -> list[dict | None]:
    """Each channel's enhancement, {method, settings}, or None where it is not enhanced."""
    enhance = config["enhance"]
    method = enhance["method"]
    if method == "none":
        return [None] * len(config["channels"])
    return [
        {"method": method, "settings": enhance[method]} if on else None
        for on in enhance["channels"]
    ]


def check(config: Mapping) -> None:
    """Raise ConfigError on what a schema can't express: ranges across keys, folders, sizes."""
    channels = config["channels"]
    per_channel = {
        "levels.low": config["levels"]["low"],
        "levels.high": config["levels"]["high"],
        "gamma": config["gamma"],
    }
    if config["enhance"]["method"] != "none":
        per_channel["enhance.channels"] = config["enhance"]["channels"]
    if config["compose"] == "perceptual":
        perceptual_keys = config["perceptual"]
        per_channel |= {f"perceptual.{k}": perceptual_keys[k] for k in ("hues", "lightness")}
    for key, values in per_channel.items():
        if values is not None and len(values) != len(channels):
            raise ConfigError(
                f"config key {key}: {values} has {len(values)} entries for the "
                f"{len(channels)} channels {channels}; give one per channel."
            )
    if config["compose"] == "rgb_mix" and len(channels) != 3:
        raise ConfigError(
            f"config key channels: {channels} has {len(channels)} wavelengths, and compose "
            "rgb_mix takes exactly 3 (red, green, blue); use compose: perceptual for 1 to 7."
        )
    try:
        look(config)
    except ValueError as error:
        raise ConfigError(f"config key {error}") from None
    mgn = config["enhance"]["mgn"]
    if mgn["weights"] is not None and len(mgn["weights"]) != len(mgn["sigmas"]):
        raise ConfigError(
            f"config key enhance.mgn.weights: {mgn['weights']} has {len(mgn['weights'])} "
            f"entries for {len(mgn['sigmas'])} sigmas; give one weight per sigma (or null)."
        )
    for i, (low, high) in enumerate(
        zip(config["levels"]["low"], config["levels"]["high"], strict=True)
    ):
        if not low < high:
            raise ConfigError(
                f"config key levels: channel {i + 1} has low percentile {low} >= high "
                f"percentile {high}; low must be below high."
            )
    size = config["prep"]["size"]
    crop = config["crop"]
    _check_box("crop", crop, size)
    x0, x1, y0, y1 = crop or (0, size, 0, size)
    try:
        video.check_movies(config["movies"], (x1 - x0, y1 - y0))
    except ValueError as error:
        raise ConfigError(f"config key movies: {error}") from None
    for i, movie in enumerate(config["movies"]):
        if movie.get("track"):
            _check_track(f"movies[{i}] ({movie['name']})", movie, config, (x0, y0))
    if config["input_dir"] != "demo":
        check_input_dir(config["input_dir"])
    check_output_dir(config["output_dir"])


def _check_track(key: str, movie: Mapping, config: Mapping, corner: tuple[int, int]) -> None:
    """ConfigError if track.at is no time, or the box's centre is off the disk then (seen from
    the Earth's centre: the segments check it again from SDO)."""
    at = movie["track"].get("at")
    if at is None:
        return
    try:
        time = reading.parse_time(at)
    except ValueError:
        raise ConfigError(
            f"config key {key}.track.at: {at!r} is not a time; give one such as "
            "2012-08-31T19:45:00 (UTC), or null for the movie's first frame."
        ) from None
    from aia_reloaded import tracking  # sunpy takes a second to import: tracked movies only

    grid = tracking.Grid(config["prep"]["size"], config["prep"]["plate_scale"], corner)
    centre = tracking.crop_centre(movie["crop"])
    try:
        tracking.surface_point(centre, tracking.earth_observer(time), grid)
    except tracking.TrackError as error:
        raise ConfigError(f"config key {key}.track: {error}") from None


def _check_box(key: str, box, size: int) -> None:
    """ConfigError unless box, [x0, x1, y0, y1] (or None), lies in the size x size frame."""
    if box is None:
        return
    x0, x1, y0, y1 = box
    if not (0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size):
        raise ConfigError(
            f"config key {key}: {list(box)} is not allowed; [x0, x1, y0, y1] must satisfy "
            f"0 <= x0 < x1 <= {size} and 0 <= y0 < y1 <= {size} (prep.size)."
        )


@functools.cache
def check_input_dir(input_dir: str) -> tuple[str, ...]:
    """The FITS files of input_dir (searched once); ConfigError if it is missing or has none."""
    folder = Path(os.path.expanduser(input_dir))
    if not folder.is_dir():
        raise ConfigError(
            f"config key input_dir: {input_dir!r} is not an existing folder; set it to the "
            "folder of your level-1 FITS files (or `demo`)."
        )
    files = pairing.find_fits(folder)
    if not files:
        raise ConfigError(
            f"config key input_dir: {input_dir!r} holds no FITS files "
            f"({', '.join(pairing.FITS_SUFFIXES)}), searched recursively."
        )
    return tuple(files)


def check_output_dir(output_dir: str) -> None:
    """ConfigError unless output_dir exists (or can be made) and can be written to."""
    folder = Path(os.path.expanduser(output_dir))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigError(
            f"config key output_dir: {output_dir!r} can't be written to "
            f"({error.strerror or error}); choose a writable folder."
        ) from None


# The keys a look of preview.looks may change: the colour keys
LOOK_KEYS = ("levels", "gamma", "enhance", "compose", "perceptual", "mix", "scalemin", "lab",
             "crop")  # fmt: skip


def merge(config: Mapping, overrides: Mapping) -> dict:
    """config with overrides: nested dicts merge key by key, lists and values replace."""
    merged = dict(config)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _overrides(look: Mapping) -> dict:
    return {key: value for key, value in look.items() if key != "name"}


def preview_looks(config: Mapping) -> dict[str, dict]:
    """Each look of preview.looks by name: the config with the look's keys merged in."""
    return {look["name"]: merge(config, _overrides(look)) for look in config["preview"]["looks"]}


def look_changes(config: Mapping, look: Mapping, prefix: str = "") -> list[str]:
    """What a look changes in config, `key.subkey: value` for each value that differs."""
    changes = []
    for key, value in _overrides(look).items():
        if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
            changes += look_changes(config[key], value, f"{prefix}{key}.")
        elif value != config.get(key):
            changes.append(f"{prefix}{key}: {_text(value)}")
    return changes


def _text(value) -> str:
    """A value as YAML writes it in flow style: [1.4, 1.4], null, true."""
    if isinstance(value, list | tuple):
        return f"[{', '.join(map(_text, value))}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def check_preview(config: Mapping, schema_path: str | Path) -> None:
    """Raise ConfigError on a preview.detail or a look of preview.looks that is not allowed.

    A look's message names the look; each look's keys are checked against the schema, then
    the config with the look merged in as `check` checks a config.
    """
    _check_box("preview.detail", config["preview"]["detail"], config["prep"]["size"])
    schema = yaml.safe_load(Path(schema_path).read_text())
    properties = schema["properties"]
    look_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": properties["preview"]["properties"]["looks"]["items"]["properties"]["name"],
            **{key: properties[key] for key in LOOK_KEYS},
        },
    }
    named: dict[str, int] = {}
    for i, look in enumerate(config["preview"]["looks"]):
        name = look["name"]
        where = f"preview.looks[{i}] ({name})"
        if name in named:
            raise ConfigError(
                f"config key {where}: the name {name} is also that of "
                f"preview.looks[{named[name]}]; give each look its own name."
            )
        named[name] = i
        if name == "sheet" or name.endswith("_detail"):
            raise ConfigError(
                f"config key {where}: the name {name} is not allowed; sheet and names ending "
                "in _detail are those of the preview's other images."
            )
        try:
            _check_against(look, look_schema)
            check({**merge(config, _overrides(look)), "movies": []})
        except ConfigError as error:
            problem = re.sub(r"^config(?: key)?:? ", "", str(error))
            raise ConfigError(f"config key {where}: {problem}") from None
