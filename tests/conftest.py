"""Hypothesis profiles: 'default' is quick (CI), 'nightly' draws many more cases.

    HYPOTHESIS_PROFILE=nightly pytest
"""
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# the helpers that several test folders share (oracle.py, functional/test_scores.py's
# registry-driven score inputs) import by name from any of them
HERE = os.path.dirname(os.path.abspath(__file__))
for folder in (HERE, os.path.join(HERE, "functional")):
    if folder not in sys.path:
        sys.path.insert(0, folder)

settings.register_profile("default", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
