#!/usr/bin/env bash
# Install Virtuoso Open Source (Debian's virtuoso-opensource) for the triplestore tests.
# Idempotent and non-interactive: does nothing when virtuoso-t is already on PATH.
# The package starts no service here; tests/servers.py starts its own on loopback.
set -euo pipefail

if command -v virtuoso-t >/dev/null 2>&1 && [ -f /etc/virtuoso-opensource-7/virtuoso.ini ]; then
    echo "virtuoso: $(command -v virtuoso-t) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# The package asks for a dba password through debconf; an empty answer keeps the default
# (dba), and no question is shown.
echo "virtuoso-opensource-7 virtuoso-opensource-7/dba-password password" | $SUDO debconf-set-selections 2>/dev/null || true
echo "virtuoso-opensource-7 virtuoso-opensource-7/dba-password-again password" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends virtuoso-opensource >/dev/null

command -v virtuoso-t >/dev/null 2>&1 || { echo "virtuoso-t is still missing after the install" >&2; exit 1; }
echo "virtuoso: installed $(command -v virtuoso-t)"
