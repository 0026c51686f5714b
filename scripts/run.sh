#!/usr/bin/env bash
# Serve the app on 127.0.0.1:8000 with a Celery worker (and its embedded beat) beside it.
# Ctrl-C stops both. The worker uses the broker in CELERY_BROKER_URL: by default a
# file-based queue under var/ (CRM_VAR_DIR), so nothing else has to run.
#   HOST_PORT=127.0.0.1:8011 scripts/run.sh     # another address
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST_PORT="${HOST_PORT:-127.0.0.1:8000}"
# A development server: debug on unless the caller says otherwise (make exports the same).
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"

# Job control puts each child in its own process group, so stopping a group also stops what
# that child spawned (runserver's auto-reloader child, the worker's embedded beat).
set -m
pids=()
cleanup() {
    trap - INT TERM EXIT
    echo "Stopping the web server and the worker…"
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    # A worker finishes the task in hand before it exits; give it a while, then insist.
    for _ in $(seq 1 40); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.25
    done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The worker's beat schedule file lives under CRM_VAR_DIR (CELERY_BEAT_SCHEDULE_FILENAME).
.venv/bin/celery -A crm_alignment worker --beat --pool=solo --loglevel=INFO &
pids+=($!)
$PY manage.py runserver "$HOST_PORT" &
pids+=($!)
echo "CRM Strategy Alignment on http://$HOST_PORT/ — Ctrl-C stops the web server and the worker."
# Whichever stops first (or Ctrl-C) ends the session; the EXIT trap stops the other.
wait -n
