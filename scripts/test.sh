#!/usr/bin/env bash
# Sets up everything and runs every check: lint, format, types, then all tests
# (a real MediaWiki, SQLite and the local PostgreSQL). Extra arguments go to pytest.
#
# --clock OFFSET (first argument) runs the tests with the clock moved, for example
# `scripts/test.sh --clock +1y` or `--clock +3y` (libfaketime's FAKETIME syntax): every
# process the tests start sees the moved time too (MediaWiki, gunicorn, Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
clock=""
if [ "${1:-}" = "--clock" ]; then
  clock="${2:?--clock needs an offset such as +1y}"
  shift 2
fi
scripts/setup.sh --services ${clock:+--clock}
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
if [ -z "$clock" ]; then
  exec .venv/bin/pytest "$@"
fi
# The library the pinned libfaketime package builds: Debian 12's libfaketime 0.9.10 makes
# Python's time.sleep fail (EINVAL) when the monotonic clock is left alone, and hangs its
# timed waits when it is not. The monotonic clock stays real: only dates move; Chromium
# keeps the real clock (sandbox/browser.py). Without FAKETIME_FORCE_MONOTONIC_FIX=0 the
# library's pthread_cond_timedwait makes every hand-over of Python's GIL spin (two busy
# threads run seven times slower, and the scale-out test's workers miss its deadline).
library=$(.venv/bin/python -c 'import libfaketime; print(libfaketime.get_reload_information()[1]["LD_LIBRARY_PATH"])')
echo "tests with the clock moved by $clock"
exec env LD_PRELOAD="$library/libfaketime.so.1" FAKETIME="$clock" DONT_FAKE_MONOTONIC=1 \
  FAKETIME_FORCE_MONOTONIC_FIX=0 .venv/bin/pytest "$@"
