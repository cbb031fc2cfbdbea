#!/usr/bin/env python3
"""Times two carbon-patch binaries against each other, interleaved, on fresh copies of one
product: first apply (copy, sync, apply; which binary goes first alternates by round), then
no-change apply (many runs each, alternating). Prints each round and the medians. Used to
compare a change with the commit before it on a noisy shared machine; nothing is asserted.

    bench/interleave.py BEFORE_BIN AFTER_BIN PRODUCT [--rounds 7] [--runs 40]

PRODUCT is a generated product that was never applied (e.g. `bench/run.sh --keep DIR`).
"""
import argparse
import statistics
import subprocess
import tempfile
import time


def timed(binary, home):
    start = time.perf_counter()
    subprocess.run([binary, "apply", "-q", home], check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("product")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    bins = {"before": args.before, "after": args.after}
    with tempfile.TemporaryDirectory() as work:
        ratios, seconds = [], {"before": [], "after": []}
        for round_ in range(args.rounds):
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            took = {}
            for name in order:
                home = f"{work}/{name}"
                subprocess.run(["rm", "-rf", home], check=True)
                subprocess.run(["cp", "-a", args.product, home], check=True)
                subprocess.run(["sync"], check=True)
                took[name] = timed(bins[name], home)
                seconds[name].append(took[name])
            ratios.append(took["after"] / took["before"])
            print(f"first apply, round {round_ + 1}: before {took['before']:.3f} s, "
                  f"after {took['after']:.3f} s, after/before {ratios[-1]:.3f}")
        print(f"first apply: medians before {statistics.median(seconds['before']):.3f} s, "
              f"after {statistics.median(seconds['after']):.3f} s; after/before per round "
              f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
        runs = {"before": [], "after": []}
        for _ in range(args.runs):
            for name in ("before", "after"):
                runs[name].append(timed(bins[name], f"{work}/{name}"))
        before, after = (statistics.median(runs[n]) * 1000 for n in ("before", "after"))
        print(f"no-change apply: medians before {before:.1f} ms, after {after:.1f} ms "
              f"({(after / before - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
