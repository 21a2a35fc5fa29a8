import os

import pytest

from setpiece.spec import spec_from_dict

# A small building keeps every stage fast on 2 cores.
SMALL = {
    "shot": {"frames": 36, "fps": 24.0, "seed": 3},
    "building": {"floors": 3, "footprint": [8.0, 6.0], "bays": [2, 1]},
    "fracture": {"fragments": 90, "cluster_size": 6},
    "trigger": {"time": 0.25, "floors": [0], "side": "left"},
    "sim": {"substeps": 8},
    "render": {"width": 160, "height": 96, "spp": 4},
}


def small_spec(**sections):
    data = {k: dict(v) for k, v in SMALL.items()}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return spec_from_dict(data)


@pytest.fixture
def spec():
    return small_spec()


def pytest_collection_modifyitems(config, items):
    on_ci = os.environ.get("CI") == "true"
    try:
        import drjit

        has_cuda = drjit.has_backend(drjit.JitBackend.CUDA)
    except Exception:
        has_cuda = False
    for item in items:
        if on_ci and "slow" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="slow check, skipped on CI"))
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="no CUDA GPU here"))
