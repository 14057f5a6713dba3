#!/usr/bin/env bash
# Sets up everything and runs every check: lint, format, types, then all tests
# (a real MediaWiki, SQLite and the local PostgreSQL). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --services
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
