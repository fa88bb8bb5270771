#!/bin/bash
# Installs the WI-Box station on Raspberry Pi OS (Bookworm or later; Lite is the target) or Debian 12: system
# packages, users and groups, a venv under /opt/wibox, systemd units, udev rules, tmpfiles, journald and watchdog
# drop-ins and a configuration template. Idempotent: a second run changes nothing that is already right, and it
# never overwrites /etc/wibox/station.toml or /etc/udev/rules.d/99-wibox.rules. See docs/operations.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: systemd/install.sh [OPTIONS]

  --wheel PATH    install the project from this wheel (default: from the checkout this script is in)
  --source DIR    the checkout to install from (default: the parent of this script's directory)
  --prefix DIR    install every file under DIR (a test root); creates no users, runs no apt-get, systemctl,
                  udevadm or chown (each is printed as skipped)
  --dry-run       print what would be done, change nothing
  --no-enable     install, but do not enable the units
  --hub           also enable wibox-hub.service (the city hub; normally it runs on the city's server)
  --skip-venv     do not create the venv or pip-install the project (tests; a venv must exist to run)
  --no-apt        do not install system packages with apt-get
  -h, --help      this text
EOF
}

SRC_DIR="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=""
DRY_RUN=0
ENABLE=1
HUB=0
SKIP_VENV=0
APT=1
WHEEL=""

die() {
    echo "install: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) [ $# -ge 2 ] || die "--wheel needs a path"; WHEEL="$2"; shift 2 ;;
        --source) [ $# -ge 2 ] || die "--source needs a directory"; SRC_DIR="$2"; shift 2 ;;
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX="$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --no-enable) ENABLE=0; shift ;;
        --hub) HUB=1; shift ;;
        --skip-venv) SKIP_VENV=1; shift ;;
        --no-apt) APT=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

if [ -n "$PREFIX" ]; then
    [ -d "$PREFIX" ] || die "--prefix $PREFIX is not a directory"
    PREFIX="$(cd "$PREFIX" && pwd)"
fi
if [ -z "$PREFIX" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo systemd/install.sh), or use --dry-run / --prefix DIR"
fi
[ -z "$WHEEL" ] || [ -f "$WHEEL" ] || die "wheel $WHEEL not found"

UNIT_DIR=/etc/systemd/system
UNITS="wibox.service wibox-kiosk.service wibox-kiosk-watch.service wibox-kiosk-watch.timer wibox-hub.service"
OPT=/opt/wibox
VENV="$OPT/venv"
CHANGED=0

for f in $UNITS 99-wibox.rules wibox.tmpfiles wibox-kiosk.sh wibox-kiosk-watch.py journald-wibox.conf \
    system-watchdog-wibox.conf; do
    [ -f "$SRC_DIR/systemd/$f" ] || die "$SRC_DIR/systemd/$f is missing (is --source a WI-Box checkout?)"
done
[ -f "$SRC_DIR/examples/station.toml" ] || die "$SRC_DIR/examples/station.toml is missing"

say() { echo "install: $*"; }

# Runs a command that changes the live system (users, packages, systemd, udev, ownership).
sys_run() {
    if [ -n "$PREFIX" ]; then
        say "skipped (--prefix): $*"
    elif [ "$DRY_RUN" -eq 1 ]; then
        say "would run: $*"
    else
        say "running: $*"
        "$@" || die "failed: $*"
    fi
}

# Runs a command that only writes under the install root.
run() {
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would run: $*"
    else
        "$@" || die "failed: $*"
    fi
}

# owner_ok PATH [OWNER:GROUP]: true when no owner is asked for, under --prefix, or when PATH has that owner.
owner_ok() {
    [ -z "${2:-}" ] || [ -n "$PREFIX" ] || [ "$(stat -c %U:%G "$1")" = "$2" ]
}

# dir PATH MODE [OWNER:GROUP]: a directory with this mode (and owner).
dir() {
    local dest="$PREFIX$1" mode="$2" owner="${3:-}"
    if [ -d "$dest" ] && [ "$(stat -c %a "$dest")" = "${mode#0}" ] && owner_ok "$dest" "$owner"; then
        return 0
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would create directory $dest (mode $mode)"
    else
        mkdir -p "$dest" || die "cannot create $dest"
        chmod "$mode" "$dest" || die "cannot chmod $dest"
        say "directory $dest (mode $mode)"
    fi
    CHANGED=1
    if [ -n "$owner" ]; then sys_run chown "$owner" "$dest"; fi
}

# put SRC DEST MODE [OWNER:GROUP]: installs SRC as DEST unless DEST already has this content and mode.
put() {
    local src="$1" dest="$PREFIX$2" mode="$3" owner="${4:-}"
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ] \
        && owner_ok "$dest" "$owner"; then
        say "unchanged $dest"
        return 0
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would install $dest (mode $mode)"
    else
        mkdir -p "$(dirname "$dest")" || die "cannot create $(dirname "$dest")"
        install -m "$mode" "$src" "$dest" || die "cannot install $dest"
        say "installed $dest (mode $mode)"
    fi
    CHANGED=1
    if [ -n "$owner" ]; then sys_run chown "$owner" "$dest"; fi
}

# put_once SRC DEST MODE [OWNER:GROUP]: like put, but never replaces an existing DEST (site configuration).
put_once() {
    if [ -e "$PREFIX$2" ]; then
        say "kept $PREFIX$2 (site configuration is never overwritten; the shipped version is in $PREFIX$OPT/share)"
        return 0
    fi
    put "$@"
}

# --- system packages ----------------------------------------------------------------------------------------
if [ "$APT" -eq 1 ]; then
    browser_pkg=chromium
    if command -v apt-cache >/dev/null 2>&1 && ! apt-cache show chromium >/dev/null 2>&1; then
        browser_pkg=chromium-browser
    fi
    missing=""
    # No compiler: every Python dependency comes as a wheel (scripts/check_wheels.py checks that for aarch64).
    for pkg in python3 python3-venv libzbar0 sqlite3 cage xwayland "$browser_pkg"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $pkg"
        fi
    done
    if [ -n "$missing" ]; then
        sys_run apt-get update -q
        # shellcheck disable=SC2086 # one word per package
        sys_run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    else
        say "system packages present"
    fi
fi

# --- groups and users ---------------------------------------------------------------------------------------
# gpio (and on plain Debian sometimes render) does not exist off a Raspberry Pi: it is created as an empty system
# group, so that one unit file (SupplementaryGroups=dialout gpio input video) starts everywhere.
ensure_group() {
    if [ -n "$PREFIX" ] || ! getent group "$1" >/dev/null; then
        sys_run groupadd --system "$1"
    fi
}
ensure_user() {
    local name="$1" home="$2" groups="$3"
    if [ -n "$PREFIX" ] || ! getent passwd "$name" >/dev/null; then
        sys_run useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$name"
    fi
    local g missing=""
    for g in ${groups//,/ }; do
        if [ -n "$PREFIX" ] || ! id -nG "$name" 2>/dev/null | tr ' ' '\n' | grep -qxF "$g"; then
            missing="$missing${missing:+,}$g"
        fi
    done
    if [ -n "$missing" ]; then
        sys_run usermod --append --groups "$missing" "$name"
    fi
}
for g in dialout gpio input video audio render; do ensure_group "$g"; done
ensure_user wibox /var/lib/wibox dialout,gpio,input,video
ensure_user wibox-kiosk /nonexistent video,audio,render
ensure_user wibox-hub /var/lib/wibox-hub ""

# --- program: venv and helper scripts -----------------------------------------------------------------------
dir "$OPT" 0755
dir "$OPT/libexec" 0755
dir "$OPT/share" 0755
dir "$OPT/share/doc" 0755
if [ "$SKIP_VENV" -eq 1 ]; then
    say "skipped the venv (--skip-venv): $PREFIX$VENV is not created or updated"
else
    if [ ! -x "$PREFIX$VENV/bin/python" ]; then
        run python3 -m venv "$PREFIX$VENV"
        CHANGED=1
    fi
    run "$PREFIX$VENV/bin/python" -m pip install --quiet --upgrade pip
    run "$PREFIX$VENV/bin/python" -m pip install --quiet --upgrade "${WHEEL:-$SRC_DIR}"
    # gpiozero's pin factory on a Raspberry Pi (the venv does not see Debian's python3-lgpio).
    if grep -qs "Raspberry Pi" /proc/device-tree/model; then
        if [ "$DRY_RUN" -eq 1 ]; then
            say "would run: $PREFIX$VENV/bin/python -m pip install lgpio"
        elif ! "$PREFIX$VENV/bin/python" -m pip install --quiet lgpio; then
            say "warning: pip install lgpio failed: GPIO-wired locks will not work until it is installed"
        fi
    fi
    CHANGED=1
fi
put "$SRC_DIR/systemd/wibox-kiosk.sh" "$OPT/libexec/wibox-kiosk.sh" 0755
put "$SRC_DIR/systemd/wibox-kiosk-watch.py" "$OPT/libexec/wibox-kiosk-watch.py" 0755
put "$SRC_DIR/examples/station.toml" "$OPT/share/station.toml.example" 0644
put "$SRC_DIR/systemd/99-wibox.rules" "$OPT/share/99-wibox.rules" 0644
if [ -f "$SRC_DIR/docs/operations.md" ]; then
    put "$SRC_DIR/docs/operations.md" "$OPT/share/doc/operations.md" 0644
fi

# --- configuration and state --------------------------------------------------------------------------------
dir /etc/wibox 0755 root:root
put_once "$SRC_DIR/examples/station.toml" /etc/wibox/station.toml 0640 root:wibox
if [ -f "$SRC_DIR/examples/hub.toml" ]; then
    put_once "$SRC_DIR/examples/hub.toml" /etc/wibox/hub.toml 0640 root:wibox-hub
fi
dir /var/lib/wibox 0700 wibox:wibox
dir /var/backups/wibox 0700 root:root

# --- systemd, udev, tmpfiles, journald ----------------------------------------------------------------------
for unit in $UNITS; do
    put "$SRC_DIR/systemd/$unit" "$UNIT_DIR/$unit" 0644
done
put "$SRC_DIR/systemd/wibox.tmpfiles" /etc/tmpfiles.d/wibox.conf 0644
put "$SRC_DIR/systemd/journald-wibox.conf" /etc/systemd/journald.conf.d/wibox.conf 0644
put "$SRC_DIR/systemd/system-watchdog-wibox.conf" /etc/systemd/system.conf.d/wibox-watchdog.conf 0644
# uninstall.sh keeps a site-edited rules file in /etc/wibox; a reinstall brings it back.
rules_src="$SRC_DIR/systemd/99-wibox.rules"
if [ -f "$PREFIX/etc/wibox/99-wibox.rules.saved" ]; then
    rules_src="$PREFIX/etc/wibox/99-wibox.rules.saved"
fi
put_once "$rules_src" /etc/udev/rules.d/99-wibox.rules 0644
if grep -qs "SET-BUS0-SERIAL" "$PREFIX/etc/udev/rules.d/99-wibox.rules"; then
    say "note: name the lock-board buses in /etc/udev/rules.d/99-wibox.rules (docs/operations.md)"
fi

# --- activate -----------------------------------------------------------------------------------------------
sys_run systemd-tmpfiles --create /etc/tmpfiles.d/wibox.conf
sys_run udevadm control --reload
sys_run udevadm trigger --action=add --subsystem-match=tty --subsystem-match=input --subsystem-match=gpio
sys_run systemctl daemon-reload
if [ "$ENABLE" -eq 1 ]; then
    sys_run systemctl enable wibox.service wibox-kiosk.service wibox-kiosk-watch.timer
    # The kiosk owns tty1 (wibox-kiosk.service also has Conflicts=getty@tty1.service).
    sys_run systemctl disable getty@tty1.service
    if [ "$HUB" -eq 1 ]; then sys_run systemctl enable wibox-hub.service; fi
    if command -v raspi-config >/dev/null 2>&1; then
        # Screen blanking off (the kiosk is always on).
        sys_run raspi-config nonint do_blanking 1
    fi
else
    say "units not enabled (--no-enable)"
fi

if [ "$DRY_RUN" -eq 1 ]; then
    say "dry run: nothing was changed"
elif [ "$CHANGED" -eq 0 ]; then
    say "done: everything was already installed"
else
    say "done. Next: edit /etc/wibox/station.toml and /etc/udev/rules.d/99-wibox.rules, run"
    say "  /opt/wibox/venv/bin/wibox config check /etc/wibox/station.toml"
    say "then reboot (the journald, watchdog and tty1 changes take effect at boot)."
fi
