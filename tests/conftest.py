"""Shared test set-up. In CI (CI=true), hypothesis is derandomized so a run is repeatable;
locally it explores new examples each run."""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
