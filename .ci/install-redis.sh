#!/usr/bin/env bash
# Install redis-server (Debian 12 package) for the geo-api cache tests. The tests start a private
# server of their own (own port, directory and password) and stop it; nothing is configured here.
#
# Idempotent: an installed package is left alone. Run as root.
set -euo pipefail

log() { printf 'install-redis: %s\n' "$*"; }

if command -v redis-server >/dev/null 2>&1; then
    log "$(redis-server --version | cut -d' ' -f1-3) already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (apt-get needs it)" >&2
    exit 1
fi
log "installing redis-server"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends redis-server
log "$(redis-server --version | cut -d' ' -f1-3) installed"
