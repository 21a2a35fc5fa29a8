"""Prompt reader benchmark: first load, then latency per prompt.

    PYTHONPATH=. python bench/prompt.py

First load: importing the reader, loading all-MiniLM-L6-v2 from its package
and embedding the lexicon's example phrases, measured on one prompt. Then
every prompt of tests/prompt/prompts.toml is read once (nothing is cached
between prompts) and the median, 90th percentile and worst latency are
printed. Target: under 1 s per prompt after the first load on a laptop CPU."""

from __future__ import annotations

import platform
import statistics
import time
import tomllib
from pathlib import Path

PROMPTS = Path(__file__).resolve().parent.parent / "tests" / "prompt" / "prompts.toml"


def main() -> None:
    prompts = [p["text"] for p in tomllib.loads(PROMPTS.read_text())["prompt"]]
    start = time.perf_counter()
    from setpiece.prompt import read_prompt

    first = read_prompt("A ten-storey brick block implodes at dusk, seen from a drone")
    first_load = time.perf_counter() - start
    print(f"machine: {platform.processor() or platform.machine()}, model used: {first.model_used}")
    print(f"first load (import, model, lexicon phrases, one prompt): {first_load:.2f} s")
    times = []
    for prompt in prompts:
        t0 = time.perf_counter()
        read_prompt(prompt)
        times.append(time.perf_counter() - t0)
    times.sort()
    p90 = times[int(0.9 * (len(times) - 1))]
    print(
        f"after the first load, {len(times)} prompts: median {statistics.median(times) * 1000:.0f} ms, "
        f"90th percentile {p90 * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
