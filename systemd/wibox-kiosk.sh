#!/bin/sh
# Kiosk screen launcher, run by wibox-kiosk.service as user wibox-kiosk on tty1: waits for the station's page, then
# runs Chromium in kiosk mode inside cage, with a fresh profile, config and cache on tmpfs ($RUNTIME_DIRECTORY).
# It claims the screen with the token the daemon writes at each start (display.screen_token_file), so that the
# station's scans reach this browser alone; the token goes through a private file, never a command line (ps).
# Settings (environment): WIBOX_KIOSK_URL, WIBOX_KIOSK_HEALTH_URL, WIBOX_KIOSK_WAIT_S, WIBOX_PYTHON, WIBOX_BROWSER,
# WIBOX_SCREEN_TOKEN_FILE, WIBOX_KIOSK_ROTATE (0, 90, 180 or 270 degrees clockwise: a screen mounted turned).
set -eu

URL="${WIBOX_KIOSK_URL:-http://127.0.0.1:8080/}"
HEALTH_URL="${WIBOX_KIOSK_HEALTH_URL:-${URL%/}/healthz}"
WAIT_S="${WIBOX_KIOSK_WAIT_S:-60}"
PYTHON="${WIBOX_PYTHON:-/opt/wibox/venv/bin/python}"

# cage turns the output 90 degrees clockwise per -r
case "${WIBOX_KIOSK_ROTATE:-0}" in
    0) rotate="" ;;
    90) rotate="-r" ;;
    180) rotate="-r -r" ;;
    270) rotate="-r -r -r" ;;
    *)
        echo "wibox-kiosk: WIBOX_KIOSK_ROTATE must be 0, 90, 180 or 270, not '${WIBOX_KIOSK_ROTATE}'" >&2
        exit 1
        ;;
esac

if [ -z "${RUNTIME_DIRECTORY:-}" ]; then
    echo "wibox-kiosk: RUNTIME_DIRECTORY is not set (start me through wibox-kiosk.service)" >&2
    exit 1
fi
if ! command -v cage >/dev/null 2>&1; then
    echo "wibox-kiosk: cage is not installed (apt-get install cage)" >&2
    exit 1
fi
browser="${WIBOX_BROWSER:-}"
if [ -z "$browser" ]; then
    for candidate in chromium chromium-browser; do
        if command -v "$candidate" >/dev/null 2>&1; then
            browser="$candidate"
            break
        fi
    done
fi
if [ -z "$browser" ]; then
    echo "wibox-kiosk: no Chromium found (apt-get install chromium)" >&2
    exit 1
fi

# Fresh profile at every start: no "restore pages" bubble after a power cut, nothing written to the SD card.
rundir="${RUNTIME_DIRECTORY%%:*}"
profile="$rundir/profile"
rm -rf "$profile" "$rundir/config" "$rundir/cache"
mkdir -p "$profile" "$rundir/config" "$rundir/cache"
HOME="$rundir"
XDG_CONFIG_HOME="$rundir/config"
XDG_CACHE_HOME="$rundir/cache"
export HOME XDG_CONFIG_HOME XDG_CACHE_HOME

# Wait for the daemon's page so that the browser does not open on an error page. After WAIT_S it starts anyway:
# wibox-kiosk-watch restarts it once the page's heartbeat stays away.
if [ -x "$PYTHON" ] && [ "$WAIT_S" -gt 0 ]; then
    if ! "$PYTHON" - "$HEALTH_URL" "$WAIT_S" <<'PYEOF'
import sys
import time
import urllib.request

url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            if resp.status == 200:
                sys.exit(0)
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(1)
PYEOF
    then
        echo "wibox-kiosk: $HEALTH_URL did not answer within $WAIT_S s; starting the browser anyway" >&2
    fi
fi

# Read after the wait: the daemon writes a fresh token before it serves the page.
TOKEN_FILE="${WIBOX_SCREEN_TOKEN_FILE:-/run/wibox-screen/token}"
start="$URL"
if [ -r "$TOKEN_FILE" ]; then
    token="$(tr -cd 'A-Za-z0-9_-' < "$TOKEN_FILE")"
    (
        umask 077
        printf '<!doctype html><title>WI-Box</title><meta http-equiv="refresh" content="0;url=%s">\n' \
            "${URL%/}/screen?token=$token" > "$rundir/start.html"
    )
    start="file://$rundir/start.html"
else
    echo "wibox-kiosk: no screen token at $TOKEN_FILE: scans go to whichever page is in front" >&2
fi

echo "wibox-kiosk: starting $browser on $URL"
# The page goes last, as a plain argument: Chromium (156, Debian 12) quits at once when given --kiosk with --app=URL.
# shellcheck disable=SC2086 # $rotate is zero to three separate -r options
exec cage $rotate -- "$browser" \
    --kiosk \
    --user-data-dir="$profile" \
    --noerrdialogs \
    --disable-infobars \
    --disable-session-crashed-bubble \
    --no-first-run \
    --password-store=basic \
    --disable-pinch \
    --overscroll-history-navigation=0 \
    --disable-features=Translate,TranslateUI \
    --disable-component-update \
    --ozone-platform=wayland \
    "$start"
