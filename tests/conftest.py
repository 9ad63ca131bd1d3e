from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.emulator import EmulatorControl, running_emulator


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    """One provider emulator process per test module that asks for it."""
    with running_emulator() as url:
        yield url


@pytest.fixture
def control(emulator_url: str) -> EmulatorControl:
    """The emulator's control API, its faults and counters reset for the test."""
    control = EmulatorControl(emulator_url)
    control.reset()
    return control
