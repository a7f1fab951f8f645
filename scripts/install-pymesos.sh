#!/usr/bin/env bash
# pymesos 0.3.15 is the independent Mesos client our simulator is tested against (never a runtime
# dependency). Its dependency http-parser 0.9.0 ships stale Cython C code that does not build on
# Python 3.11, so it is installed from a pure-Python build of http-parser (components.md).
set -euo pipefail
PY=${1:-.venv/bin/python}
if "$PY" -c 'import pymesos' 2>/dev/null; then exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: http-parser==0.9.0 -d "$T"
tar xzf "$T"/http-parser-0.9.0.tar.gz -C "$T"
sed -i 's/run_setup(not IS_PYPY)/run_setup(False)/' "$T"/http-parser-0.9.0/setup.py
rm -f "$T"/http-parser-0.9.0/http_parser/*.so
"$PY" -m pip install --quiet --disable-pip-version-check "$T"/http-parser-0.9.0 pymesos==0.3.15
