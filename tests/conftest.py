"""Hypothesis profiles: 'ci' (fast, the default under CI=true) and 'thorough' (local).

Choose with HYPOTHESIS_PROFILE=ci|thorough|dev; without it, CI=true picks 'ci', else 'dev'.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=15, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_default = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))


@pytest.fixture(autouse=True)
def _restore_floatx():
    """Tests may switch floatx; put it back so tests stay independent."""
    from scratchnet import backend

    before = backend.floatx()
    yield
    backend.set_floatx(before)


def pytest_terminal_summary(terminalreporter):
    """Print how tight parity was (largest relative error per area and dtype)."""
    from parity_log import report_lines

    lines = report_lines()
    if lines:
        terminalreporter.section("parity against TensorFlow: largest errors")
        for line in lines:
            terminalreporter.write_line(line)
