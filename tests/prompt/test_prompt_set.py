"""The prompt test set: at least 90% of the fields each prompt states are read right."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from setpiece.prompt import read_prompt
from setpiece.prompt.encoder import model_dir

PROMPTS = tomllib.loads((Path(__file__).parent / "prompts.toml").read_text())["prompt"]


def field_value(spec, name: str):
    if name == "camera.position.z":
        return None if spec.camera.position is None else spec.camera.position[2]
    section, key = name.split(".")
    return getattr(getattr(spec, section), key)


def matches(got, expected) -> bool:
    if isinstance(expected, list):
        return got is not None and expected[0] <= got <= expected[1]
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return got is not None and abs(float(got) - expected) < 1e-6
    return got == expected


def score(prompts) -> tuple[int, int, list[str]]:
    right, total, misses = 0, 0, []
    for item in prompts:
        spec = read_prompt(item["text"]).spec
        for name, expected in item["expect"].items():
            got = field_value(spec, name)
            total += 1
            if matches(got, expected):
                right += 1
            else:
                misses.append(f"{name}: got {got!r}, expected {expected!r} in {item['text']!r}")
    return right, total, misses


def test_the_set_has_at_least_60_prompts_each_stating_fields():
    assert len(PROMPTS) >= 60
    assert all(item["expect"] for item in PROMPTS)


@pytest.mark.skipif(model_dir() is None, reason="sentence-embedding model package not installed")
def test_at_least_90_percent_of_stated_fields_are_read_right():
    right, total, misses = score(PROMPTS)
    print(f"\n{right}/{total} fields right ({right / total:.1%})")
    for miss in misses:
        print("  miss:", miss)
    assert right / total >= 0.9, "\n".join(misses)
