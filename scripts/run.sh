#!/usr/bin/env bash
# `make run`: bootstrap, upgrade the database, then the web server and one capture worker until Ctrl-C.
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
install_system_packages
install_python_packages requirements.txt
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-5000}"
children=()

stop_all() {
    trap - INT TERM EXIT
    say "Stopping"
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
trap stop_all INT TERM EXIT

ensure_redis "$REDIS_URL"
"$VENV/bin/flask" --app wsgi db upgrade
"$VENV/bin/gunicorn" --bind "$HOST:$PORT" --workers 2 --access-logfile - --graceful-timeout 5 wsgi:app &
children+=($!)
"$VENV/bin/flask" --app wsgi worker &
children+=($!)

say "Log in at http://$HOST:$PORT/login  (new install? sign up at http://$HOST:$PORT/signup: the first account becomes the admin)"
say "Ctrl-C stops the web server, the worker and anything else this started."
wait -n "${children[@]}"
