"""Fixtures come from vae_testutil (a unique module name: two plugins' conftest modules
would otherwise shadow each other when the test files import helpers from them)."""

from vae_testutil import *  # noqa: F403
