"""Benchmark: what each more product costs a triplet at 4096 x 4096, beside the composite alone.

    python benchmarks/products.py [--triplets 5] [--repeats 3]

Renders the first N triplets of run.py's cached full-size series in one process on one
thread (stages.render_batch, as the render job): the config's composite alone, then with
one more product of each kind (a channel in its AIA colour table, a second composite look,
a running difference, panels of four 1024 px tiles), then with all of them, the cases
interleaved in each repeat.
Prints, per case, the medians of CPU seconds a triplet and what the case adds to the
composite alone; reads and warps are counted, and are the same in every case.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # benchmarks/run.py: the cached series and the shipped config

from aia_reloaded import configuration, stages

EXTRAS = {
    "channel": [{"name": "aia171", "kind": "channel", "channel": 171}],
    "composite": [{"name": "soft", "gamma": [2.2, 2.2, 1.9]}],
    "difference": [
        {"name": "rd193", "kind": "difference", "channel": 193, "mode": "running", "lag_s": 12,
         "base": None, "limit": None},
    ],
    "panels": [
        {"name": "aia171", "kind": "channel", "channel": 171},
        {"name": "aia193", "kind": "channel", "channel": 193},
        {"name": "aia304", "kind": "channel", "channel": 304},
        {"name": "talk", "kind": "panels", "panels": ["aia171", "aia193", "aia304", "composite"],
         "columns": 2, "tile": 1024, "timestamp": True},
    ],
}  # fmt: skip


def specs(extra: list[dict]) -> list[dict]:
    """The resolved products of the shipped config with `extra` after its composite."""
    products = [{"name": "composite", "kind": "composite"}, *extra]
    return configuration.products_of({**run.CONFIG, "products": products})


def render(series, wanted, folder: Path) -> float:
    """CPU seconds a triplet of render_batch on one thread."""
    outputs = [
        stages.Output(folder / product.spec["name"], folder / f"{product.spec['name']}.csv")
        for product in wanted
    ]
    start = time.process_time()
    stages.render_batch(series, run.CHANNELS, wanted, outputs, run.CONFIG["prep"], 95, 1)
    return (time.process_time() - start) / len(series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    series = run.cached_series(args.triplets)
    config, prep = run.CONFIG, run.CONFIG["prep"]
    low, high = config["levels"]["low"], config["levels"]["high"]
    levels = stages.reference_levels(series[:1], None, run.CHANNELS, low, high, prep, [None] * 3)
    cases = {"composite alone": []} | {f"+ {kind}": extra for kind, extra in EXTRAS.items()}
    cases["+ all of them"] = list({e["name"]: e for x in EXTRAS.values() for e in x}.values())
    wanted = {}
    for case, extra in cases.items():
        found = {
            spec["name"]: stages.product_levels(series, levels, spec, run.CHANNELS, prep)
            for spec in specs(extra)[1:]
            if spec["kind"] != "panels"
        }
        wanted[case] = [
            stages.Product(s, levels if s["main"] else found.get(s["name"])) for s in specs(extra)
        ]
    seconds = {case: [] for case in cases}
    for _ in range(args.repeats):
        for case in cases:
            with tempfile.TemporaryDirectory() as folder:
                seconds[case].append(render(series, wanted[case], Path(folder)))
    alone = statistics.median(seconds["composite alone"])
    print(f"{args.triplets} triplets at 4096^2, 1 thread, {args.repeats} repeats (medians)")
    print(f"{'case':18} {'products':>8} {'CPU s/triplet':>14} {'added':>7} {'a product':>10}")
    for case, times in seconds.items():
        median, count = statistics.median(times), len(wanted[case])
        added = median - alone
        each = f"{added / (count - 1):10.2f}" if count > 1 else f"{'':10}"
        print(f"{case:18} {count:8d} {median:14.2f} {added:7.2f} {each}")


if __name__ == "__main__":
    main()
