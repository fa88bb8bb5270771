#!/bin/bash
# Removes what systemd/install.sh installed: units (stopped and disabled first), the venv and helpers under
# /opt/wibox, udev rules, tmpfiles, journald and watchdog drop-ins. Keeps the station's data (/var/lib/wibox,
# /var/lib/wibox-hub), configuration (/etc/wibox), backups (/var/backups/wibox) and the users unless --purge.
# A site-edited udev rules file is saved as /etc/wibox/99-wibox.rules.saved (install.sh restores it).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: systemd/uninstall.sh [OPTIONS]

  --purge        also delete /var/lib/wibox, /var/lib/wibox-hub, /etc/wibox, /var/backups/wibox and the users
                 wibox, wibox-kiosk, wibox-hub (the station's database and backups are gone for good)
  --prefix DIR   remove the files under DIR (a test root made by install.sh --prefix); runs no systemctl,
                 udevadm or userdel (each is printed as skipped)
  --dry-run      print what would be done, change nothing
  -h, --help     this text
EOF
}

SRC_DIR="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=""
DRY_RUN=0
PURGE=0

die() {
    echo "uninstall: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --purge) PURGE=1; shift ;;
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX="$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

if [ -n "$PREFIX" ]; then
    [ -d "$PREFIX" ] || die "--prefix $PREFIX is not a directory"
    PREFIX="$(cd "$PREFIX" && pwd)"
fi
if [ -z "$PREFIX" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo systemd/uninstall.sh), or use --dry-run / --prefix DIR"
fi

UNIT_DIR=/etc/systemd/system
UNITS="wibox-kiosk-watch.timer wibox-kiosk-watch.service wibox-kiosk.service wibox.service wibox-hub.service"

say() { echo "uninstall: $*"; }

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

# remove PATH...: deletes files or directory trees under the install root.
remove() {
    local path
    for path in "$@"; do
        if [ ! -e "$PREFIX$path" ] && [ ! -L "$PREFIX$path" ]; then
            continue
        fi
        if [ "$DRY_RUN" -eq 1 ]; then
            say "would remove $PREFIX$path"
        else
            rm -rf -- "$PREFIX$path" || die "cannot remove $PREFIX$path"
            say "removed $PREFIX$path"
        fi
    done
}

# prune DIR...: removes drop-in directories that are left empty.
prune() {
    local d
    for d in "$@"; do
        if [ "$DRY_RUN" -eq 0 ] && [ -d "$PREFIX$d" ]; then
            rmdir --ignore-fail-on-non-empty "$PREFIX$d"
        fi
    done
}

# --- stop and disable ---------------------------------------------------------------------------------------
installed_units=""
for unit in $UNITS; do
    if [ -e "$PREFIX$UNIT_DIR/$unit" ]; then installed_units="$installed_units $unit"; fi
done
if [ -n "$installed_units" ]; then
    # shellcheck disable=SC2086 # one word per unit
    sys_run systemctl disable --now $installed_units
    # tty1 gets its login prompt back.
    sys_run systemctl enable getty@tty1.service
fi

# --- files --------------------------------------------------------------------------------------------------
rules=/etc/udev/rules.d/99-wibox.rules
if [ "$PURGE" -eq 0 ] && [ -f "$PREFIX$rules" ] && ! cmp -s "$PREFIX$rules" "$SRC_DIR/systemd/99-wibox.rules"; then
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would save the site's $PREFIX$rules as $PREFIX/etc/wibox/99-wibox.rules.saved"
    else
        mkdir -p "$PREFIX/etc/wibox"
        cp -p "$PREFIX$rules" "$PREFIX/etc/wibox/99-wibox.rules.saved" || die "cannot save $PREFIX$rules"
        say "saved the site's $PREFIX$rules as $PREFIX/etc/wibox/99-wibox.rules.saved"
    fi
fi
for unit in $UNITS; do remove "$UNIT_DIR/$unit"; done
remove "$rules" /etc/tmpfiles.d/wibox.conf /etc/systemd/journald.conf.d/wibox.conf \
    /etc/systemd/system.conf.d/wibox-watchdog.conf /opt/wibox
prune /etc/systemd/journald.conf.d /etc/systemd/system.conf.d

sys_run systemctl daemon-reload
sys_run udevadm control --reload

# --- data, configuration, users -----------------------------------------------------------------------------
if [ "$PURGE" -eq 1 ]; then
    remove /var/lib/wibox /var/lib/wibox-hub /var/lib/private/wibox /var/lib/private/wibox-hub /etc/wibox \
        /var/backups/wibox
    for user in wibox-kiosk wibox-hub wibox; do
        if [ -n "$PREFIX" ] || getent passwd "$user" >/dev/null; then
            sys_run userdel "$user"
        fi
    done
    say "kept the groups dialout gpio input video audio render (other programs may use them)"
else
    say "kept /var/lib/wibox, /etc/wibox and /var/backups/wibox and the users (--purge deletes them)"
fi

if [ "$DRY_RUN" -eq 1 ]; then
    say "dry run: nothing was changed"
else
    say "done"
fi
