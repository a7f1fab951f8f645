"""Tests of the Bus port (a package so its module names cannot clash with other ports' tests)."""
