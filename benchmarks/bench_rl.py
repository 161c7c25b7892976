"""Benchmark of the RL baselines (issue 5): tabular Q-learning and DQN on the paper setting.

Run: ``.venv/bin/python benchmarks/bench_rl.py [--quick] [--seeds N] [--eval-seed S]``.

Paper setting (the scenario defaults): one UMa cell, 20 users, half the tasks quality-preferred,
Llama3-8B at the edge, GPT-4o in the cloud, arrival probability 0.05 per user and step.

For each training seed, Q-learning (through the episode runner) and DQN (stable-baselines3 on
the Gymnasium environment, extra ``drl``) train for their default budgets; each greedy agent is
then evaluated on a HELD-OUT 300-step episode (seed ``--eval-seed``, never used for training),
beside the quality-rule heuristic and the per-task optimum on the same scenarios.

Columns: training runner steps and decisions; steps to converge (the first runner step after
which the moving average over 100 decisions of the greedy policy's regret stays below 1 % of
the mean optimal reward to the end of training, ``genoffload.rl.training``; "-" = not
converged); training wall time [s]; held-out tail reward ratio (reward / optimal over the last
20 % of steps, target >= 99 % for Q-learning), whole-episode reward ratio, success rate,
decisions/s of the evaluation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any


def held_out(base: Any, policy: Any, steps: int, seed: int) -> dict[str, Any]:
    from genoffload.episode import EpisodeConfig, summary
    from genoffload.models.reference import run_certified_episode

    t0 = time.perf_counter()
    ds = run_certified_episode(base, policy, EpisodeConfig(steps=steps, seed=seed))
    elapsed = time.perf_counter() - t0
    s = summary(ds)
    return {**s, "ratio": s["mean_reward"] / s["optimal_reward"],
            "decisions_per_s": ds.sizes["decision"] / elapsed}


def run(algo: str, base: Any, seed: int, steps: int | None, eval_steps: int,
        eval_seed: int) -> dict[str, Any]:
    from genoffload.rl import train

    result = train(algo, base, steps, seed)
    t = result.summary()
    ev = held_out(base, result.agent.online(), eval_steps, eval_seed)
    return {"name": algo, "seed": seed, "steps": t["steps"], "decisions": t["decisions"],
            "converged": t["converged_step"], "train_s": t["time_s"], **ev}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one training seed")
    ap.add_argument("--seeds", type=int, default=None, help="training seeds (default 3, quick 1)")
    ap.add_argument("--eval-seed", type=int, default=1000, help="seed of the held-out episode")
    ap.add_argument("--eval-steps", type=int, default=300)
    ap.add_argument("--q-steps", type=int, default=None, help="Q-learning budget [runner steps]")
    ap.add_argument("--dqn-steps", type=int, default=None, help="DQN budget [runner steps]")
    args = ap.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)

    from genoffload.policy import RulePolicy
    from genoffload.rl import DEFAULT_TRAIN_STEPS
    from genoffload.scenario import make_config

    base = make_config({})
    print(f"paper setting: {base.users} users, quality share {base.quality_share}, edge {base.edge_model}, "
          f"cloud {base.cloud_model}; held-out episode: {args.eval_steps} steps, seed {args.eval_seed}; "
          f"training seeds 0..{seeds - 1}", flush=True)
    try:
        import stable_baselines3  # noqa: F401

        algos = ["q-learning", "dqn"]
    except ImportError:
        print("stable-baselines3 missing (extra drl): DQN skipped", flush=True)
        algos = ["q-learning"]
    budget = {"q-learning": args.q_steps, "dqn": args.dqn_steps}
    rows = []
    for algo in algos:
        for seed in range(seeds):
            r = run(algo, base, seed, budget[algo], args.eval_steps, args.eval_seed)
            rows.append(r)
            print(f"  {algo:10s} seed {seed}: trained {r['steps']} steps in {r['train_s']:.1f} s, converged "
                  f"at {r['converged']}, held-out tail ratio {r['tail_reward_ratio']:.2%}", flush=True)
    rule = held_out(base, RulePolicy("quality-rule"), args.eval_steps, args.eval_seed)
    rows.append({"name": "quality-rule", "seed": None, "steps": 0, "decisions": 0, "converged": None,
                 "train_s": 0.0, **rule})
    rows.append({"name": "per-task optimum", "seed": None, "steps": 0, "decisions": 0, "converged": None,
                 "train_s": 0.0, **rule, "mean_reward": rule["optimal_reward"], "regret": 0.0,
                 "ratio": 1.0, "tail_reward_ratio": 1.0, "decisions_per_s": float("nan")})

    print(f"\nHeld-out {args.eval_steps}-step episode (seed {args.eval_seed}), paper setting; budgets "
          f"{DEFAULT_TRAIN_STEPS} runner steps unless overridden:")
    head = (f"{'policy':16s} {'seed':>4s} {'train st':>8s} {'decisions':>9s} {'conv st':>7s} "
            f"{'train s':>7s} {'tail ratio':>10s} {'ratio':>7s} {'success':>7s} {'mean rew':>8s} "
            f"{'regret':>7s} {'dec/s':>6s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        seed = "" if r["seed"] is None else str(r["seed"])
        conv = "-" if r["converged"] is None else str(r["converged"])
        steps = "" if not r["steps"] else str(r["steps"])
        dec = "" if not r["decisions"] else str(r["decisions"])
        print(f"{r['name']:16s} {seed:>4s} {steps:>8s} {dec:>9s} {conv:>7s} {r['train_s']:7.1f} "
              f"{r['tail_reward_ratio']:10.2%} {r['ratio']:7.2%} {r['success_rate']:7.1%} "
              f"{r['mean_reward']:8.3f} {r['regret']:7.3f} {r['decisions_per_s']:6.1f}")
    print()
    verdict = 0
    for algo in algos:
        sel = [r for r in rows if r["name"] == algo]
        tail = statistics.mean(r["tail_reward_ratio"] for r in sel)
        worst = min(r["tail_reward_ratio"] for r in sel)
        conv = [r["converged"] for r in sel if r["converged"] is not None]
        line = (f"{algo:10s}: held-out tail reward ratio mean {tail:.2%} (worst seed {worst:.2%}); "
                f"converged in {len(conv)}/{len(sel)} seeds"
                + (f", median at runner step {statistics.median(conv):.0f}" if conv else "")
                + f"; training {statistics.mean(r['train_s'] for r in sel):.1f} s mean")
        if algo == "q-learning":
            met = worst >= 0.99
            line += f" (target >= 99 %: {'met' if met else 'NOT met'})"
            verdict |= 0 if met else 1
        print(line)
    return verdict


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
