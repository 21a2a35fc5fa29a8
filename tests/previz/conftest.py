from pathlib import Path

import pytest

from setpiece.previz.fountain import Screenplay, parse_file

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def load():
    """Parse tests/previz/fixtures/NAME.fountain."""

    def _load(name: str) -> Screenplay:
        return parse_file(FIXTURES / f"{name}.fountain")

    return _load


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def example() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "collapse.fountain"
