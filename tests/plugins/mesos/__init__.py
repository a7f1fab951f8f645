"""Tests of the Mesos plugin: scheduler, driver API, data watch, CLI."""
