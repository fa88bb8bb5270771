#!/bin/sh
# Installs what `make test` / `make demo` need on Debian 12 / Raspberry Pi OS, skipping what is present.
set -eu

# cage, grim and xwayland: the kiosk screen's compositor, proven in a test (tests/deploy/test_cage.py).
# No compiler: every dependency, the test extra's too, comes as a wheel. linux-libc-dev only brings the kernel's
# headers, against which tests/unit/test_linux_input.py checks the input event codes and ioctls.
APT_PACKAGES="python3 python3-venv libzbar0 chromium espeak-ng shellcheck postgresql cage grim xwayland linux-libc-dev"

missing=""
for pkg in $APT_PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "bootstrap: need root or sudo to install:$missing" >&2
        exit 1
    fi
    echo "bootstrap: installing$missing"
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
