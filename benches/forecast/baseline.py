#!/usr/bin/env python3
"""Python reference side of the demand-forecaster benchmark: seasonal-naive and statsforecast MSTL backtests and MSTL timing.

Usage:
    baseline.py backtest --input FILE.csv [--origins 14] [--horizon-steps H]
                         [--max-history-days D] [--json]
    baseline.py timing   --input FILE.csv --horizon-steps H [--json]

The input is a `timestamp,value` CSV with RFC 3339 timestamps (as written by
fetch_series.py). "Midnight" means 00:00 in each timestamp's own UTC offset.
"""

import argparse
import csv
import datetime as dt
import json
import os
import resource
import sys
import time
import warnings

import numpy as np

# Imported at module load so that `timing` measures the fit itself, not the import.
from statsforecast.models import MSTL

LEVELS = [80, 95]


def read_series(path):
    stamps, values = [], []
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if [h.strip() for h in header[:2]] != ["timestamp", "value"]:
            sys.exit(f"{path}: expected header 'timestamp,value', got {header}")
        for row in reader:
            if not row:
                continue
            ts = dt.datetime.fromisoformat(row[0])
            if ts.tzinfo is None:
                sys.exit(f"{path}: timestamp without UTC offset: {row[0]}")
            stamps.append(ts)
            values.append(float(row[1]))
    if len(stamps) < 3:
        sys.exit(f"{path}: too few points")
    epoch = np.array([ts.timestamp() for ts in stamps])
    diffs = np.diff(epoch)
    if np.any(diffs <= 0):
        sys.exit(f"{path}: timestamps are not strictly increasing")
    interval = float(np.median(diffs))
    if 86400 % interval != 0:
        sys.exit(f"{path}: interval {interval}s does not divide a day")
    if np.any(diffs != interval):
        # Every index arithmetic below (y[t - steps_per_week]) assumes a regular grid.
        sys.exit(f"{path}: irregular spacing (median {interval}s, seen {sorted(set(diffs))[:5]})")
    y = np.array(values, dtype=float)
    if not np.all(np.isfinite(y)):
        sys.exit(f"{path}: non-finite values")
    return stamps, y, int(interval)


def is_local_midnight(ts):
    return ts.hour == 0 and ts.minute == 0 and ts.second == 0 and ts.microsecond == 0


def pick_origins(stamps, k, horizon, min_history):
    n = len(stamps)
    candidates = [
        i
        for i, ts in enumerate(stamps)
        if is_local_midnight(ts) and i + horizon <= n and i >= min_history
    ]
    return candidates[-k:]


def seasonal_naive(y, origin, horizon, period):
    # For horizons longer than one period, repeat the last observed week rather than
    # reading values at or after the origin.
    steps = np.arange(horizon)
    return y[origin - period + (steps % period)]


def mstl_forecast(history, horizon, steps_per_day, steps_per_week):
    model = MSTL(season_length=[steps_per_day, steps_per_week])
    return model.forecast(y=history, h=horizon, level=LEVELS)


class Scores:
    def __init__(self):
        self.actual, self.mean, self.lo, self.hi = [], [], {l: [] for l in LEVELS}, {l: [] for l in LEVELS}
        self.seconds = 0.0

    def add(self, actual, mean, bands=None):
        self.actual.append(actual)
        self.mean.append(mean)
        if bands is not None:
            for l in LEVELS:
                self.lo[l].append(bands[f"lo-{l}"])
                self.hi[l].append(bands[f"hi-{l}"])

    def summary(self, mase_scale):
        a = np.concatenate(self.actual)
        f = np.concatenate(self.mean)
        err = np.abs(a - f)
        nz = a != 0
        out = {
            "mape": float(np.mean(err[nz] / np.abs(a[nz])) * 100.0),
            "mase": float(np.mean(err) / mase_scale),
        }
        for l in LEVELS:
            if self.lo[l]:
                lo, hi = np.concatenate(self.lo[l]), np.concatenate(self.hi[l])
                out[f"cover{l}"] = float(np.mean((a >= lo) & (a <= hi)) * 100.0)
            else:
                out[f"cover{l}"] = None
        out["seconds"] = round(self.seconds, 3)
        return out


def backtest(args):
    stamps, y, interval = read_series(args.input)
    steps_per_day = 86400 // interval
    steps_per_week = 7 * steps_per_day
    horizon = args.horizon_steps or steps_per_day
    # MSTL needs two full weekly cycles to estimate the weekly season, and the MASE
    # scale needs at least one week of seasonal-naive errors before the first origin.
    min_history = 2 * steps_per_week
    origins = pick_origins(stamps, args.origins, horizon, min_history)
    if not origins:
        sys.exit(f"{args.input}: no midnight origin with {min_history} points before and {horizon} after")

    # One common scale for every method, from data all methods could see.
    first = origins[0]
    mase_scale = float(np.mean(np.abs(y[steps_per_week:first] - y[: first - steps_per_week])))

    max_hist = args.max_history_days * steps_per_day if args.max_history_days else None
    naive, mstl = Scores(), Scores()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for o in origins:
            actual = y[o : o + horizon]

            t0 = time.perf_counter()
            naive.add(actual, seasonal_naive(y, o, horizon, steps_per_week))
            naive.seconds += time.perf_counter() - t0

            start = 0 if max_hist is None else max(0, o - max_hist)
            t0 = time.perf_counter()
            res = mstl_forecast(y[start:o], horizon, steps_per_day, steps_per_week)
            mstl.seconds += time.perf_counter() - t0
            mstl.add(actual, res["mean"], res)
    warned = sorted({f"{w.category.__name__}: {w.message}" for w in caught})

    result = {
        "series": os.path.splitext(os.path.basename(args.input))[0],
        "points": len(y),
        "interval_s": interval,
        "origins": len(origins),
        "horizon_steps": horizon,
        "first_origin": stamps[origins[0]].isoformat(),
        "last_origin": stamps[origins[-1]].isoformat(),
        "methods": {
            "seasonal_naive": naive.summary(mase_scale),
            "mstl": mstl.summary(mase_scale),
        },
    }
    if warned:
        result["warnings"] = warned

    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['series']}: {len(y)} points, interval {interval}s, {len(origins)} origins "
        f"({result['first_origin']} .. {result['last_origin']}), horizon {horizon} steps"
    )
    fmt = "{:<16}{:>9}{:>8}{:>9}{:>9}{:>10}"
    print(fmt.format("method", "MAPE%", "MASE", "cover80", "cover95", "seconds"))
    for name, m in result["methods"].items():
        cov = ["-" if m[k] is None else f"{m[k]:.1f}" for k in ("cover80", "cover95")]
        print(fmt.format(name, f"{m['mape']:.3f}", f"{m['mase']:.3f}", *cov, f"{m['seconds']:.2f}"))
    for w in warned:
        print(f"warning: {w}")


def max_rss_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timing(args):
    stamps, y, interval = read_series(args.input)
    steps_per_day = 86400 // interval
    steps_per_week = 7 * steps_per_day
    # Peak so far covers interpreter, numpy/pandas/statsmodels/statsforecast and the
    # data, so the difference isolates what one fit+predict adds on top.
    base = max_rss_mib()
    t0 = time.perf_counter()
    res = mstl_forecast(y, args.horizon_steps, steps_per_day, steps_per_week)
    seconds = time.perf_counter() - t0
    peak = max_rss_mib()
    assert len(res["mean"]) == args.horizon_steps
    result = {
        "series": os.path.splitext(os.path.basename(args.input))[0],
        "points": len(y),
        "interval_s": interval,
        "horizon_steps": args.horizon_steps,
        "seconds": round(seconds, 3),
        "rss_base_mib": round(base, 1),
        "rss_peak_mib": round(peak, 1),
        "rss_fit_mib": round(peak - base, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['series']}: MSTL fit+predict on {len(y)} points, horizon {args.horizon_steps}: "
        f"{seconds:.2f} s, peak RSS {peak:.1f} MiB total, {peak - base:.1f} MiB above "
        f"{base:.1f} MiB after imports and reading"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    bt = sub.add_parser("backtest", help="rolling-origin backtest at local midnights")
    bt.add_argument("--input", required=True)
    bt.add_argument("--origins", type=int, default=14)
    bt.add_argument("--horizon-steps", type=int, default=None, help="default: one day")
    bt.add_argument("--max-history-days", type=int, default=None, help="default: all history")
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(func=backtest)

    tm = sub.add_parser("timing", help="one MSTL fit+predict on the whole series")
    tm.add_argument("--input", required=True)
    tm.add_argument("--horizon-steps", type=int, required=True)
    tm.add_argument("--json", action="store_true")
    tm.set_defaults(func=timing)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
