"""Contract tests of the KV port, run against both adapters (a package so module names stay unique)."""
