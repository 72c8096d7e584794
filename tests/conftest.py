"""Shared pytest fixtures live in tests/fixtures/ (one module per real component)."""

pytest_plugins = [
    "tests.fixtures.home",
    "tests.fixtures.broker",
    "tests.fixtures.s3",
    "tests.fixtures.spark",
    "tests.fixtures.erasure",
    "tests.fixtures.realtime",
    "tests.fixtures.gateway",
    "tests.fixtures.lakehouse",
    "tests.fixtures.chromium",
    "tests.fixtures.dashboard_server",
    "tests.fixtures.lti_platform",
    "tests.fixtures.retention",
]
