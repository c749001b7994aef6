"""What the tests share, loaded as a pytest plugin by tests/conftest.py (`fixtures`):

- fixtures: the shared fixtures and the hooks that run tests on both index backends;
- cli: the one way to run the `assistant` command in a subprocess (run_cli, start_cli, environment);
- http_double: the base of the hand-written HTTP test doubles (HttpDouble, DoubleHandler);
- misbehaving_provider, recorded_server: the doubles the suite shares;
- index_backends: the PostgreSQL server and schemas of the `[postgresql]` runs;
- tool_threads: what thread-level tests of hosted tools share.
"""
