#!/usr/bin/env bash
# Install the Debian packages skyfence's tests and demo need, only where missing.
# `system-deps.sh venv` installs only what `python3 -m venv` needs.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }

if [ "${1:-}" = "venv" ]; then
    need+=(python3-venv python3-pip)
else
    # Services the tests start on loopback (see tests/conftest.py and each area's fixtures).
    have pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
    have chromium || need+=(chromium)
    # The TAK tests make a self-signed TLS certificate with the openssl CLI.
    have openssl || need+=(openssl)
    have sox || need+=(sox)
    # The FreeTAKServer test runs the server in private network/mount namespaces
    # (unshare/nsenter from util-linux, `ip link set lo up` from iproute2).
    have ip || need+=(iproute2)
    dpkg -s libsndfile1 >/dev/null 2>&1 || need+=(libsndfile1)
fi

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
