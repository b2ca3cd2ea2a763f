"""Benchmarks of kontext-widget (issue 5): ``python -m bench`` writes ``bench/RESULTS.md``.

Not part of the test suite: figures are measured within one run and reported
against their targets, never asserted by a timed unit test.
"""
