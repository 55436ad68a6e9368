"""Benchmark: a day of small triplets end to end, with two small movies, now and before.

    python benchmarks/day.py [--repeats 1] [--cores 2] [--triplets 7200]
                             [--workflow PATH ...]

Makes (once, cached in benchmarks/cache/day128/, about 20 minutes on 2 workers) a day of
7,200 synthetic 128 x 128 level-1 triplets (RICE-compressed, real headers, 12 s cadence)
with `aia_reloaded.synthetic.make_series`. Each repeat runs, one after the other, this
repository's workflow and that of every checkout given with --workflow (e.g. an older
commit: `git worktree add ../day-old 739dd42`), the order alternating from one repeat to
the next: `snakemake --cores N` from a clean output folder, the checkout's own
config/config.yaml except input_dir (the day; with --triplets, its first N triplets), prep
at 128 px and 19.2 arcsec/px (the synthetic plate scale at 128 px: frames of 128 x 128) and
two small movies: the full disk at 128 x 128 and the central 64 x 64 box at 64 x 64. Each
checkout imports its own package (PYTHONPATH=<checkout>/src; checked by a job of a small
Snakefile before the runs).

It prints, for each checkout (medians of the repeats): wall and CPU seconds (the run and
its children, user + sys), the peak RSS of the largest process, the time before the first
job starts (Snakemake's planning), the time no job runs (Snakemake alone: planning, DAG
updates, scheduling), and per rule the number of jobs and the sum of their wall seconds:
from the jobs' benchmark records where the rule has a `benchmark:` directive, else from
Snakemake's metadata (.snakemake/metadata: each output's job start and the output's
modification time), else from the `[date]` lines of the run's log (1 s resolution). Job
seconds overlap on N cores: their sum is the work of a rule, not a share of the wall time.
The working folders stay in benchmarks/cache/day/ until the next run.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import run  # benchmarks/run.py: measure(), job_records(), the cache folder
import yaml

from aia_reloaded.pairing import find_fits, identify, pair

DAY = 7200
SIZE = 128
DAY_DIR = run.CACHE / f"day{SIZE}"
SCRATCH = run.CACHE / "day"
PREP = {"size": SIZE, "plate_scale": 0.6 * 4096 / SIZE}  # make_series' plate scale at SIZE
MOVIES = [
    {"name": "full_disk_128", "frame_size": [SIZE, SIZE]},
    # the central quarter at its own size: the workflow of b1474bf cannot enlarge a movie
    # (video.reduction finds no decoding factor when frame_size exceeds the crop)
    {"name": "centre_64", "crop": [64, 64, 32, 32], "frame_size": [64, 64]},
]
LOG_START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
LOG_JOBID = re.compile(r"^\s+jobid: (\d+)$")
LOG_FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)$")
LOG_DATE = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
WHERE_SNAKEFILE = """\
import aia_reloaded

rule where:
    output: "where.json"
    params: main=aia_reloaded.__file__
    script: "where.py"
"""
WHERE_SCRIPT = """\
import json
import aia_reloaded
main = snakemake.params.main
json.dump({"main": main, "job": aia_reloaded.__file__}, open(snakemake.output[0], "w"))
"""


def cached_day() -> Path:
    """The folder of the day's 7,200 triplets, made once (warnings of astropy silenced)."""
    if DAY_DIR.exists():
        return DAY_DIR
    from aia_reloaded.synthetic import make_series

    partial = DAY_DIR.with_name(DAY_DIR.name + ".partial")
    subprocess.run(["rm", "-rf", str(partial)], check=True)
    print(f"making {DAY} synthetic {SIZE} x {SIZE} triplets in {DAY_DIR} (once)", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning, once a file (workers fork)
        make_series(partial, DAY, size=SIZE, workers=2)
    partial.rename(DAY_DIR)
    return DAY_DIR


def inputs(triplets: int) -> Path:
    """The day, or a folder of links to its first `triplets` triplets."""
    day = cached_day()
    if triplets >= DAY:
        return day
    folder = SCRATCH / f"input_{triplets}"
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.mkdir(parents=True)
    config = run.CONFIG
    found = pair(identify(find_fits(day))[0], config["channels"], config["pair_tolerance_s"])[0]
    for triplet in found[:triplets]:
        for path in triplet.files:
            (folder / Path(path).name).symlink_to(path)
    return folder


class Checkout:
    """A checkout of the repository: its workflow, config, package, and a working folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        commit = ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"]
        self.commit = subprocess.run(commit, capture_output=True, text=True).stdout.strip()
        self.label = f"{self.root.name} ({self.commit or 'no git'})"
        self.folder = SCRATCH / self.root.name

    def command(self, folder: Path, cores: int, *args: str) -> list[str]:
        """snakemake on this checkout's workflow in `folder`, importing its package."""
        return [
            "env",
            f"PYTHONPATH={self.root / 'src'}",
            sys.executable,
            "-m",
            "snakemake",
            *("-s", str(self.root / "workflow" / "Snakefile"), "-d", str(folder)),
            *("--cores", str(cores), *args),
        ]

    def prepare(self, input_dir: Path) -> None:
        """The working folder: this checkout's shipped config with the day's settings; and
        the check that a job of this checkout imports its own package."""
        config = yaml.safe_load((self.root / "config" / "config.yaml").read_text())
        schema = yaml.safe_load(
            (self.root / "workflow" / "schemas" / "config.schema.yaml").read_text()
        )
        known = schema["properties"]["movies"]["items"]["properties"]
        for movie in MOVIES:
            if unknown := set(movie) - set(known):
                sys.exit(f"{self.label}: its schema has no movie keys {sorted(unknown)}")
        config.update(
            input_dir=str(input_dir),
            output_dir="results",
            prep={**config["prep"], **PREP},
            movies=MOVIES,
        )
        subprocess.run(["rm", "-rf", str(self.folder)], check=True)
        (self.folder / "config").mkdir(parents=True)
        (self.folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        where = self.folder / "where"
        where.mkdir()
        (where / "Snakefile").write_text(WHERE_SNAKEFILE)
        (where / "where.py").write_text(WHERE_SCRIPT)
        command = [*self.command(where, 1), "-q"]
        command[command.index("-s") + 1] = str(where / "Snakefile")
        subprocess.run(command, check=True, capture_output=True)
        imported = json.loads((where / "where.json").read_text())
        for place, path in imported.items():
            if not Path(path).is_relative_to(self.root / "src"):
                sys.exit(f"{self.label}: the {place} process imports {path}")
        print(f"{self.label}: Snakefile and jobs import {imported['job']}", flush=True)

    def run(self, cores: int) -> dict:
        """The workflow end to end from a clean output folder, and where its time went."""
        for path in ("results", ".snakemake"):
            subprocess.run(["rm", "-rf", str(self.folder / path)], check=True)
        start = time.time()
        result = run.measure(self.command(self.folder, cores))
        return {**result, **where_time_went(self.folder, start, start + result["wall"])}


def log_jobs(folder: Path) -> dict[int, dict]:
    """Each job of the run's Snakemake log: its rule and start and end (epoch, 1 s)."""
    log = max((folder / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs: dict[int, dict] = {}
    date = rule = None
    for line in log.read_text().splitlines():
        if found := LOG_DATE.match(line):
            date = datetime.strptime(found[1], "%a %b %d %H:%M:%S %Y").timestamp()
        elif found := LOG_START.match(line):
            rule = found[1]
        elif (found := LOG_JOBID.match(line)) and rule:
            jobs[int(found[1])] = {"rule": rule, "start": date, "end": date}
            rule = None
        elif found := LOG_FINISHED.match(line):
            jobs[int(found[1])]["end"] = date
    return jobs


def metadata_jobs(folder: Path) -> list[dict]:
    """Each job with Snakemake metadata: its rule, start, end (its last output's mtime)."""
    jobs: dict[tuple, dict] = {}
    for path in (folder / ".snakemake" / "metadata").rglob("*"):
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        if record.get("starttime") is None or record.get("endtime") is None:
            continue
        key = (record["rule"], record["job_hash"])
        job = jobs.setdefault(key, {"rule": record["rule"], "start": record["starttime"]})
        job["start"] = min(job["start"], record["starttime"])
        job["end"] = max(job.get("end", record["endtime"]), record["endtime"])
    return list(jobs.values())


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the intervals runs."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def where_time_went(folder: Path, start: float, end: float) -> dict:
    """Jobs and seconds per rule, planning time and Snakemake's time alone, of a run."""
    logged = log_jobs(folder)
    counts: dict[str, int] = {}
    for job in logged.values():
        counts[job["rule"]] = counts.get(job["rule"], 0) + 1
    benchmarks: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    results = folder / "results" / "benchmarks"
    for tsv, record in run.job_records(results).items():
        rule = tsv.relative_to(results).parts[0].removesuffix(".tsv")
        benchmarks.setdefault(rule, []).append(float(record["s"]))
        rss[rule] = max(rss.get(rule, 0.0), float(record["max_rss"]))
    metadata = metadata_jobs(folder)
    rules = {}
    for rule, jobs in counts.items():
        timed = [j["end"] - j["start"] for j in metadata if j["rule"] == rule]
        if rule in benchmarks and len(benchmarks[rule]) == jobs:
            seconds, source = sum(benchmarks[rule]), "benchmark"
        elif len(timed) == jobs:
            seconds, source = sum(timed), "metadata"
        else:
            in_log = [j["end"] - j["start"] for j in logged.values() if j["rule"] == rule]
            seconds, source = sum(in_log), "log"
        rules[rule] = {"jobs": jobs, "s": seconds, "source": source, "rss": rss.get(rule)}
    intervals = [(j["start"], j["end"]) for j in metadata]
    first = min(s for s, _e in intervals)
    checkpoint = [j for j in metadata if j["rule"] == "triplets"]
    after = min((s for s, _e in intervals if s >= checkpoint[0]["end"]), default=None)
    return {
        "rules": rules,
        "planning": first - start,
        "replanning": after - checkpoint[0]["end"] if checkpoint and after else float("nan"),
        "alone": (end - start) - busy_seconds(intervals),
        "jobs": sum(counts.values()),
    }


def summary_table(checkouts: list[Checkout], runs: dict[str, list[dict]]) -> None:
    def median(label: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[label])

    labels = [c.label for c in checkouts]
    print(f"| | {' | '.join(labels)} |")
    print(f"|---|{'---:|' * len(labels)}")
    rows = (
        ("wall s", "wall", "{:.1f}"),
        ("CPU s (user + sys)", "cpu", "{:.1f}"),
        ("CPU / wall (cores busy)", None, "{:.2f}"),
        ("peak RSS MB (largest process)", "rss", "{:.0f}"),
        ("jobs", "jobs", "{:.0f}"),
        ("planning: start to the first job, s", "planning", "{:.1f}"),
        ("pairing checkpoint's end to the next job, s", "replanning", "{:.1f}"),
        ("Snakemake alone (no job running), s", "alone", "{:.1f}"),
    )
    for name, key, form in rows:
        if key is None:
            values = [median(label, "cpu") / median(label, "wall") for label in labels]
        else:
            values = [median(label, key) for label in labels]
        print(f"| {name} | {' | '.join(form.format(v) for v in values)} |")


def rule_table(checkouts: list[Checkout], runs: dict[str, list[dict]]) -> None:
    labels = [c.label for c in checkouts]
    names: list[str] = []
    for label in labels:
        rules = runs[label][0]["rules"]
        names += [n for n in sorted(rules, key=lambda n: -rules[n]["s"]) if n not in names]
    head = " | ".join(f"{label}: jobs | job s | s/job | from" for label in labels)
    print(f"| rule | {head} |")
    print(f"|---|{'---:|---:|---:|---|' * len(labels)}")
    for name in names:
        cells = []
        for label in labels:
            found = [r["rules"][name] for r in runs[label] if name in r["rules"]]
            if not found:
                cells.append(" | ".join(["-"] * 4))
                continue
            jobs = statistics.median(f["jobs"] for f in found)
            seconds = statistics.median(f["s"] for f in found)
            cells.append(
                f"{jobs:.0f} | {seconds:.1f} | {seconds / jobs:.3f} | {found[0]['source']}"
            )
        print(f"| {name} | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each (default 1)")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    parser.add_argument("--triplets", type=int, default=DAY, help="the day's first N (7200)")
    parser.add_argument(
        "--workflow",
        type=Path,
        action="append",
        default=[],
        help="another checkout to run beside this one (repeatable)",
    )
    args = parser.parse_args()
    input_dir = inputs(args.triplets)
    checkouts = [Checkout(run.REPO), *(Checkout(path) for path in args.workflow)]
    for checkout in checkouts:
        checkout.prepare(input_dir)
    runs: dict[str, list[dict]] = {}
    for repeat in range(args.repeats):
        for checkout in checkouts[:: 1 if repeat % 2 == 0 else -1]:
            result = checkout.run(args.cores)
            runs.setdefault(checkout.label, []).append(result)
            print(
                f"repeat {repeat + 1}/{args.repeats}, {checkout.label}: wall "
                f"{result['wall']:.1f} s, CPU {result['cpu']:.1f} s, {result['jobs']} jobs, "
                f"planning {result['planning']:.1f} s",
                flush=True,
            )
    print(
        f"\n{args.triplets} triplets of {SIZE} x {SIZE}, 2 movies, snakemake --cores "
        f"{args.cores}, medians of {args.repeats} repeat{'s' * (args.repeats > 1)}\n"
    )
    summary_table(checkouts, runs)
    print("\nper rule: jobs and the sum of their wall seconds (median of the repeats)\n")
    rule_table(checkouts, runs)


if __name__ == "__main__":
    main()
