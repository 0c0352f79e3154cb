#!/usr/bin/env bash
# Everything a fresh Debian machine lacks to build, run and test teamssh: the OpenSSH client
# and server (tests and benchmarks drive the real ones), other SSH clients for the client
# matrix (Dropbear's dbclient, PuTTY's plink) and ssh-audit, asciinema (an independent reader
# of our recordings), sudo (a real password prompt for the echo-off input test), a C compiler (node-pty,
# the session launcher), systemd (only for systemd-analyze, which checks config/*.service; installing it
# needs no running systemd), Debian 13's OpenSSH 10
# client and ssh-audit unpacked apart (scripts/debian13-tools.sh), then the npm packages (their
# postinstall applies patches/) and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in openssh-client openssh-server dropbear-bin putty-tools ssh-audit asciinema rsync gcc g++ make python3 procps passwd sudo systemd; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The account the quick start runs sessions as: unprivileged, with a real shell.
if [ "$(id -u)" -eq 0 ] && ! getent passwd teamssh >/dev/null; then
  useradd --create-home --shell /bin/bash --comment "teamssh sessions" teamssh
fi

bash scripts/debian13-tools.sh >/dev/null

npm ci --no-audit --no-fund
npm run build
