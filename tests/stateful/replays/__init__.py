"""Replay scripts of failing stateful examples, written by tests/stateful/runner.py. Each is a
standalone script (run it with python) and, once its bug is fixed, a regression test."""
