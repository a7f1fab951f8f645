"""Tests of the engine-neutral offer pool, constraints and placement."""
