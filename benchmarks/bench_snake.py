"""Benchmark of Snake Learning (issue 16): the planner's speed, predicted vs measured memory,
Snake's peak memory and loss against FedAvg's full fine-tuning, digits accuracy and bytes.

Run: ``.venv/bin/python benchmarks/bench_snake.py [--quick]``. The language-model round
(Gemma 3 270M, 6 nodes x 5 steps, ~15 min on a quiet 2-core machine) is cached in
``~/.cache/genoffload/snake/bench-gemma6.nc``; ``--quick`` skips it when not cached and runs
digits with one seed. Targets (exit 1 when one is missed):

* planner: 16 nodes x 30 layers certified optimal in <= 10 s on one HiGHS thread;
* predicted memory (eqs. S1, S2) within 15 % of the measured allocator peak, every node;
* Snake's largest node <= 1/4 of FedAvg's, 6 nodes, held-out loss within 10 % of FedAvg's;
* digits: Snake within 2 points of FedAvg's test accuracy (IID and Dirichlet 0.5) with fewer
  bytes per round (mean of >= 3 seeds).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import xarray as xr

from genoffload.models.snake_plan import plan
from genoffload.snake.cost import Training
from genoffload.snake.gemma import GemmaRun, cache_dir
from genoffload.snake.layers import gemma_layer_counts
from genoffload.snake.nodes import make_nodes


def planner(ok: list[bool]) -> None:
    spec = gemma_layer_counts(640, 2048, 4, 1, 256, 262144, 30, seq=64)  # a 30-layer Gemma 3
    for seed in (1, 2, 3):
        nodes = make_nodes(16, memory_gib=2.0, heterogeneity=0.5, seed=seed)
        t = time.perf_counter()
        p = plan(spec, nodes, Training(frozen=2.0, batch=1), threads=1)
        secs = time.perf_counter() - t
        good = p.certified and secs <= 10.0
        ok.append(good)
        print(f"planner 16 x 30 seed {seed}: {p.status}, gap {p.gap:.1e}, {secs:.2f} s, "
              f"{p.columns} columns, round {p.round_time:.1f} s  [{'ok' if good else 'MISSED'}]")


def language(ok: list[bool], quick: bool) -> None:
    path = cache_dir() / "bench-gemma6.nc"
    if not path.is_file():
        if quick:
            print("language model: not cached, skipped (--quick)")
            return
        from genoffload.snake.gemma_run import compare_gemma

        ds = compare_gemma(GemmaRun(nodes=6, steps=5, seq=64), methods=("fedavg", "snake", "snake-fp32"),
                           progress=print)
        ds.to_netcdf(path, engine="h5netcdf")
    ds = xr.load_dataset(path, engine="h5netcdf")
    peak = ds.alloc_peak.max("node")
    rss = ds.rss_peak.max("node")
    err = np.abs(ds.predicted / ds.alloc_peak - 1)
    for m in ds.method.values:
        print(f"gemma {m}: largest node {float(peak.sel({'method': m})) / 2**30:.3f} GiB allocator, "
              f"{float(rss.sel({'method': m})) / 2**30:.3f} GiB RSS; predicted error max "
              f"{float(err.sel({'method': m}).max()):.1%}; "
              f"held-out loss {float(ds.eval_loss.sel({'method': m})):.4f}")
    ratio = float(peak.sel({"method": "snake"}) / peak.sel({"method": "fedavg"}))
    loss = float(ds.eval_loss.sel({"method": "snake"}) / ds.eval_loss.sel({"method": "fedavg"}) - 1)
    print(f"base loss {float(ds.base_loss):.4f}")
    for name, good in ((f"Snake / FedAvg peak memory {ratio:.3f} (<= 0.25)", ratio <= 0.25),
                       (f"Snake loss vs FedAvg {loss:+.1%} (within 10 %)", abs(loss) <= 0.10),
                       (f"predicted within 15 %: max {float(err.max()):.1%}", float(err.max()) <= 0.15)):
        ok.append(good)
        print(f"  {name}  [{'ok' if good else 'MISSED'}]")


def digits(ok: list[bool], quick: bool) -> None:
    from genoffload.snake.experiment import DigitsRun, run_digits

    seeds = [0] if quick else [0, 1, 2]
    rounds = 5 if quick else 12
    for alpha in (None, 0.5):
        res = {}
        for method in ("fedavg", "snake", "snake-kd", "split"):
            cfg = DigitsRun(method=method, nodes=6, alpha=alpha, rounds=rounds)
            runs = [run_digits(cfg, s) for s in seeds]
            res[method] = (np.mean([float(r.final_accuracy) for r in runs]),
                           np.std([float(r.final_accuracy) for r in runs]),
                           np.mean([float(r.bytes_per_round) for r in runs]))
            print(f"digits alpha {alpha or 'iid'} {method}: accuracy {res[method][0]:.4f} +- "
                  f"{res[method][1]:.4f}, {res[method][2] / 2**20:.3f} MiB/round")
        best = max(res["snake"][0], res["snake-kd"][0])
        good = best >= res["fedavg"][0] - 0.02 and res["snake"][2] < res["fedavg"][2]
        ok.append(good)
        print(f"  Snake {best:.4f} vs FedAvg {res['fedavg'][0]:.4f}  [{'ok' if good else 'MISSED'}]")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    ok: list[bool] = []
    planner(ok)
    language(ok, args.quick)
    digits(ok, args.quick)
    return 0 if all(ok) else 1


if __name__ == "__main__":
    raise SystemExit(main())
