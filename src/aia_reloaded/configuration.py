"""Checking a workflow configuration: one clear sentence per mistake, before anything runs."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import jsonschema
import yaml

from aia_reloaded import pairing, perceptual, products, reading, video


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
    _check_box("crop", config["crop"], size)
    _check_frame_track("track", "crop", config["track"], config["crop"], config)
    check_products(config)
    check_movies(config)
    if config["input_dir"] != "demo":
        check_input_dir(config["input_dir"])
    check_output_dir(config["output_dir"])


def whxy(box: Sequence[int]) -> list[int]:
    """A box [x0, x1, y0, y1] as a crop [w, h, x, y]."""
    x0, x1, y0, y1 = box
    return [x1 - x0, y1 - y0, x0, y0]


def _check_frame_track(key: str, box_key: str, track: Mapping | None, box, config) -> None:
    """ConfigError if a frame box that tracks is missing, or its track is not allowed."""
    if track is None:
        return
    if box is None:
        raise ConfigError(
            f"config key {key}: it makes {box_key} follow the Sun, and {box_key} is null; give "
            f"{box_key} [x0, x1, y0, y1] where the region is at `at`, or set {key}: null."
        )
    _check_track(key, track, whxy(box), config, (0, 0))


def _check_track(
    key: str, track: Mapping, crop: Sequence[int], config: Mapping, corner: tuple[int, int]
) -> None:
    """ConfigError if track.at is no time, or the centre of crop [w, h, x, y] is off the disk
    then (seen from the Earth's centre: the jobs check it again from SDO)."""
    at = track.get("at")
    if at is None:
        return
    try:
        time = reading.parse_time(at)
    except ValueError:
        raise ConfigError(
            f"config key {key}.at: {at!r} is not a time; give one such as "
            "2012-08-31T19:45:00 (UTC), or null for the movie's first frame."
        ) from None
    from aia_reloaded import tracking  # sunpy takes a second to import: tracked movies only

    grid = tracking.Grid(config["prep"]["size"], config["prep"]["plate_scale"], corner)
    centre = tracking.crop_centre(crop)
    try:
        tracking.surface_point(centre, tracking.earth_observer(time), grid)
    except tracking.TrackError as error:
        raise ConfigError(f"config key {key}: {error}") from None


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
             "crop", "track")  # fmt: skip


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
    preview = config["preview"]
    _check_box("preview.detail", preview["detail"], config["prep"]["size"])
    track, detail = preview["track"], preview["detail"]
    _check_frame_track("preview.track", "preview.detail", track, detail, config)
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


# --- products: more looks of each prepped triplet (products.py)

PRODUCT_KEYS = ("name", "kind", "channel", "channels", "panels", "columns", "tile",
                "timestamp", "mode", "lag_s", "base", "limit")  # fmt: skip
DIFFERENCE_KEYS = ("mode", "lag_s", "base", "limit")


def products_of(config: Mapping) -> list[dict]:
    """The config's products, each resolved into the spec stages.product_frames takes; the
    first (`main`) is the config's own composite, in levels.yaml and frames/."""
    channels, specs = config["channels"], []
    for i, entry in enumerate(config["products"]):
        kind = entry.get("kind", "composite")
        merged = merge(config, {k: v for k, v in entry.items() if k not in PRODUCT_KEYS})
        low, high, gamma = merged["levels"]["low"], merged["levels"]["high"], merged["gamma"]
        if kind == "composite":
            spec = {"look": look(merged), "channels": channels, "low": low, "high": high}
            spec |= {"gamma": gamma, "track": merged["track"]}
        elif kind == "difference" and entry.get("channels") == "all":
            spec = {"channels": channels, "low": low, "high": high, "box": merged["crop"]}
            spec |= {key: entry[key] for key in DIFFERENCE_KEYS} | {"track": merged["track"]}
            spec["tolerance_s"] = config["pair_tolerance_s"]
        elif kind in ("channel", "difference"):
            at = channels.index(entry["channel"])
            pick = [v[at] if isinstance(v, list) else v for v in (low, high, gamma)]
            spec = {"low": pick[:1], "high": pick[1:2], "gamma": pick[2:], "box": merged["crop"]}
            spec["track"] = merged["track"]
            spec |= (
                {"channel": entry["channel"]}
                if kind == "channel"
                else {
                    "channels": [entry["channel"]],
                    **{key: entry[key] for key in DIFFERENCE_KEYS},
                    "tolerance_s": config["pair_tolerance_s"],
                }
            )
        else:
            spec = {key: entry[key] for key in ("panels", "columns", "tile", "timestamp")}
        specs.append({"name": entry["name"], "kind": kind, "main": i == 0, **spec})
    return specs


def product_corner(spec: Mapping) -> tuple[int, int]:
    """Where a product's frames (not panels) start in the prepped image: x0, y0."""
    x0, _x1, y0, _y1 = products.product_box(spec, 0)
    return x0, y0


def product_size(spec: Mapping, size: int) -> tuple[int, int]:
    """Width and height of a product's frames, from prepped frames of size x size."""
    if spec["kind"] == "panels":
        return products.panel_size(spec)
    x0, x1, y0, y1 = products.product_box(spec, size)
    return x1 - x0, y1 - y0


def check_products(config: Mapping) -> None:
    """ConfigError on a product that can't be made: the first not the config's own look, a
    repeated name, a channel not among `channels`, a panel of no product before it."""
    entries, channels, seen = config["products"], config["channels"], {}
    first = entries[0]
    if first.get("kind", "composite") != "composite" or set(first) - set(PRODUCT_KEYS):
        raise ConfigError(
            f"config key products[0] ({first['name']}): the first product is the config's "
            "own composite (frames/, levels.yaml) and takes only a name; set its colour keys "
            "at the top of the config, or list this product after it."
        )
    for i, entry in enumerate(entries):
        name, kind = entry["name"], entry.get("kind", "composite")
        where = f"products[{i}] ({name})"
        if name in seen:
            raise ConfigError(
                f"config key {where}: the name {name} is also that of products[{seen[name]}]; "
                "give each product its own name."
            )
        every = kind == "difference" and entry.get("channels") == "all"
        if every and len(channels) != 3:
            raise ConfigError(
                f"config key {where}: channels all differences the {len(channels)} channels "
                f"{channels} in red, green and blue, and needs 3; or give one `channel`."
            )
        if kind in ("channel", "difference") and not every and entry.get("channel") not in channels:
            raise ConfigError(
                f"config key {where}: channel {entry.get('channel')} is not one of the "
                f"channels {channels}; a {kind} product shows one of them"
                + (" (or set channels: all)." if kind == "difference" else ".")
            )
        for panel in entry.get("panels", []) if kind == "panels" else []:
            before = {e["name"]: e.get("kind", "composite") for e in entries[:i]}
            if before.get(panel, "panels") == "panels":
                raise ConfigError(
                    f"config key {where}: panel {panel} is not a product listed before it "
                    "(nor panels); a panel shows one of those."
                )
        seen[name] = i
        if kind == "composite" and i:
            overrides = {k: v for k, v in entry.items() if k not in PRODUCT_KEYS}
            try:
                check({**merge(config, overrides), "products": [{"name": "main"}], "movies": []})
            except ConfigError as error:
                problem = re.sub(r"^config(?: key)?:? ", "", str(error))
                raise ConfigError(f"config key {where}: {problem}") from None
        if kind in ("channel", "difference"):
            for key in ("low", "high"):
                value = entry.get("levels", {}).get(key)
                if isinstance(value, list):
                    raise ConfigError(
                        f"config key {where}: levels.{key} {value} is a list; a {kind} "
                        "product takes one percentile (e.g. levels: {low: 1, high: 99.9})."
                    )
    for spec in products_of(config):
        one = spec["kind"] in ("channel", "difference") and len(spec["low"]) == 1
        if one and not spec["low"][0] < spec["high"][0]:
            raise ConfigError(
                f"config key products ({spec['name']}): low percentile {spec['low'][0]} >= high "
                f"percentile {spec['high'][0]}; low must be below high."
            )
        box = spec["look"]["box"] if spec["kind"] == "composite" else spec.get("box")
        _check_box(f"products ({spec['name']}) crop", box, config["prep"]["size"])
        where = f"products ({spec['name']}) track"
        _check_frame_track(where, "crop", spec.get("track"), box, config)


def check_movies(config: Mapping) -> None:
    """ConfigError on a movie of no product, or with settings its product's frames can't honour."""
    specs = {spec["name"]: spec for spec in products_of(config)}
    sizes = {name: product_size(spec, config["prep"]["size"]) for name, spec in specs.items()}
    first = config["products"][0]["name"]
    for movie in config["movies"]:
        product = movie.get("product", first)
        if product not in specs:
            raise ConfigError(
                f"config key movies ({movie['name']}): product {product} is not the name of "
                f"one of the products {', '.join(specs)}."
            )
    try:
        video.check_movies(config["movies"], lambda movie: sizes[movie.get("product", first)])
    except ValueError as error:
        raise ConfigError(f"config key movies: {error}") from None
    for i, movie in enumerate(config["movies"]):
        if movie.get("track"):
            where = f"movies[{i}] ({movie['name']})"
            spec = specs[movie.get("product", first)]
            if spec["kind"] == "panels":
                raise ConfigError(
                    f"config key {where}.track: product {spec['name']} is panels, whose "
                    "frames are no image of the Sun; track a movie of another product."
                )
            if spec.get("track") is not None:
                raise ConfigError(
                    f"config key {where}.track: product {spec['name']}'s frames follow the "
                    "Sun already (its track); give the movie a fixed crop of them, or no track."
                )
            _check_track(f"{where}.track", movie["track"], movie["crop"], config,
                         product_corner(spec))  # fmt: skip
