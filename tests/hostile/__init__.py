"""Hostile-input tests: a generated-request fuzz test and hypothesis property tests (issue 4)."""
