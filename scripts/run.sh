#!/usr/bin/env bash
# `make run`: bootstrap, upgrade the database, then the web server and one capture worker until Ctrl-C.
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
install_system_packages
install_python_packages requirements.txt
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
# The web workers and the capture worker count into one folder that /metrics adds up; a new start starts at zero.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$ROOT/instance/metrics}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
WORKER_RESTART_DELAY=5  # seconds between a worker's exit and its replacement, so a crash cannot spin
web_pid=""
worker_pid=""

stop_all() {
    trap - INT TERM EXIT
    say "Stopping"
    local children=($web_pid $worker_pid)
    for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 100); do
        alive=0
        for pid in "${children[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    stop_started_redis
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

start_worker() {
    "$VENV/bin/flask" --app wsgi worker &
    worker_pid=$!
}

ensure_redis "$REDIS_URL"
"$VENV/bin/flask" --app wsgi db upgrade
"$VENV/bin/gunicorn" --bind "$HOST:$PORT" --workers 2 --access-logfile - --graceful-timeout 5 wsgi:app &
web_pid=$!
start_worker

say "Log in at http://$HOST:$PORT/login  (new install? sign up at http://$HOST:$PORT/signup: the first account becomes the admin)"
say "Ctrl-C stops the web server, the worker and anything else this started."
# The worker waits out Redis outages by itself. Should it exit anyway (a crash, the OOM killer), it is started
# again while the web server keeps serving; the web server stopping stops everything.
while true; do
    wait -n "$web_pid" "$worker_pid" || true
    if ! kill -0 "$web_pid" 2>/dev/null; then
        say "The web server stopped"
        exit 1
    fi
    if ! kill -0 "$worker_pid" 2>/dev/null; then
        say "The capture worker stopped; starting it again in $WORKER_RESTART_DELAY s"
        sleep "$WORKER_RESTART_DELAY"
        start_worker
    fi
done
