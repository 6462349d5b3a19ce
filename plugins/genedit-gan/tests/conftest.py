"""Fixtures come from gan_testutil (a unique module name: two plugins' conftest modules
would otherwise shadow each other when the test files import helpers from them)."""

from gan_testutil import *  # noqa: F403
