#!/usr/bin/env bash
# Sets up everything and starts the local demo: a real MediaWiki and the
# Constellate service, configured for each other. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/constellate sandbox demo "$@"
