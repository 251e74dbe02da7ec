#!/usr/bin/env bash
# Integration tests of `deepspeech serve` with real client libraries over loopback.
#
#   swift build -c release
#   Tests/ServerIntegration/run.sh [pytest args, e.g. -k websocket]
#
# Creates (or reuses) the virtual environment .venv-server with the pinned clients in
# requirements.txt, starts two servers on free loopback ports with the default model (one
# plain with Wyoming, one with --api-key), runs test_clients.py and test_faults.py (which
# start their own extra servers where they need special flags), stops the servers and exits
# non-zero on any failure. The binary is $DEEPSPEECH (default .build/release/deepspeech).
# Needs python3 (with venv), curl and network access to PyPI on the first run.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=Tests/ServerIntegration
export DEEPSPEECH="${DEEPSPEECH:-.build/release/deepspeech}"
case "$DEEPSPEECH" in /*) ;; *) DEEPSPEECH="$ROOT/$DEEPSPEECH" ;; esac
VENV="${VENV:-$ROOT/.venv-server}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$DEEPSPEECH" ]; then
    echo "run.sh: no server binary at $DEEPSPEECH (swift build -c release first)" >&2
    exit 2
fi

# The virtual environment, reinstalled when requirements.txt changes.
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements.txt"; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$VENV/.requirements.txt"
fi

# First use of the default model fetches it: do that before any server starts.
"$DEEPSPEECH" --audio Fixtures/clips/hy-01.wav >/dev/null

unset DEEPSPEECH_API_KEY
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/deepspeech-serve-it.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$LOGDIR"
}
trap cleanup EXIT

read -r HTTP_PORT WYOMING_PORT KEY_PORT < <("$VENV/bin/python" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()')

# start_server LOG PORT ARGS...: start one server, wait for its "listening" line and /healthz.
start_server() {
    local log=$1 port=$2
    shift 2
    "$DEEPSPEECH" serve --host 127.0.0.1 --port "$port" "$@" 2>"$log" >&2 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: server on port $port exited early:" >&2
            cat "$log" >&2
            exit 1
        fi
        if grep -q "listening on http://127.0.0.1:$port" "$log" &&
           curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
            STARTED_PID=$pid
            return 0
        fi
        sleep 0.2
    done
    echo "run.sh: server on port $port not ready after 120 s:" >&2
    cat "$log" >&2
    exit 1
}

start_server "$LOGDIR/main.log" "$HTTP_PORT" --wyoming-port "$WYOMING_PORT"
export DS_URL="http://127.0.0.1:$HTTP_PORT" DS_WYOMING_PORT="$WYOMING_PORT" DS_PID="$STARTED_PID"
start_server "$LOGDIR/keyed.log" "$KEY_PORT" --api-key secret
export DS_KEY_URL="http://127.0.0.1:$KEY_PORT" DS_API_KEY=secret
echo "run.sh: servers on $DS_URL (Wyoming $DS_WYOMING_PORT, pid $DS_PID) and $DS_KEY_URL (API key)"

export PYTHONDONTWRITEBYTECODE=1
status=0
"$VENV/bin/python" -m pytest -p no:cacheprovider -q -rA --durations=5 \
    "$HERE/test_clients.py" "$HERE/test_faults.py" "$@" || status=$?

if ! kill -0 "$DS_PID" 2>/dev/null; then
    echo "run.sh: FAIL: the main server died during the tests; its log:" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "run.sh: --- main server log (last 40 lines) ---" >&2
    tail -n 40 "$LOGDIR/main.log" >&2
fi
exit "$status"
