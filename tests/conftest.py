"""The suite's shared fixtures and hooks live in the tests/support package, loaded here as a pytest plugin."""

pytest_plugins = ["tests.support.fixtures"]
