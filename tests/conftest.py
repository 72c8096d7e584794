"""Shared pytest fixtures live in tests/fixtures/ (one module per real component)."""

pytest_plugins = [
    "tests.fixtures.home",
]
