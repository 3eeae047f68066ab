#!/usr/bin/env bash
# `make test`: bootstrap, then the whole suite against real Redis and real Chromium.
# TEST_DATABASE_URL=postgresql://… runs it on a fresh database of that PostgreSQL server instead of SQLite.
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
install_system_packages
install_selenium_grid
install_python_packages requirements-dev.txt
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/13}"
trap stop_started_redis EXIT
ensure_redis "$TEST_REDIS_URL"
"$VENV/bin/python" -m pytest "$@"
