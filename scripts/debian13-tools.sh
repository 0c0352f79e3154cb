#!/usr/bin/env bash
# Unpacks Debian 13's OpenSSH 10 client (ssh, scp) with the libraries it needs, and Debian 13's
# ssh-audit, into .cache/debian13 without installing anything: the system keeps its own ssh.
# The client-matrix tests, the ssh-audit test and the benchmark start ssh through Debian 13's
# own dynamic loader, so it runs on an older Debian too. Prints the directory; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/.cache/debian13"
if [ -x "$out/bin/ssh" ] && "$out/bin/ssh" -V >/dev/null 2>&1 && [ -x "$out/bin/ssh-audit" ]; then
  echo "$out"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work" "$out.tmp"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$work/sources.list"
apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Dir::State::Status=/dev/null
  -o APT::Architecture=amd64 -o APT::Sandbox::User=root -qq)
apt-get "${apt[@]}" update >&2

# openssh-client and the shared libraries of ssh/scp down to libc (from `ldd` on Debian 13),
# and ssh-audit (pure Python, runs on the system's python3).
pkgs=(openssh-client libc6 libgcc-s1 libedit2 libbsd0 libmd0 libtinfo6 libfido2-1 libcbor0.10 libudev1
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1 libselinux1 libpcre2-8-0
  libssl3t64 zlib1g libzstd1 ssh-audit)
(cd "$work/debs" && apt-get "${apt[@]}" download "${pkgs[@]}" >&2)

rm -rf "$out.tmp" && mkdir -p "$out.tmp/root" "$out.tmp/bin"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$out.tmp/root"; done
# Debian 13 is merged-/usr: the loader and every library are under usr/lib. The wrappers name
# the final directory: $out.tmp becomes $out below.
libs="$out/root/usr/lib/x86_64-linux-gnu"
for tool in ssh scp; do
  printf '#!/bin/sh\nexec "%s/ld-linux-x86-64.so.2" --library-path "%s" "%s/root/usr/bin/%s" "$@"\n' "$libs" "$libs" "$out" "$tool" >"$out.tmp/bin/$tool"
done
printf '#!/bin/sh\nPYTHONPATH="%s/root/usr/lib/python3/dist-packages" exec python3 -m ssh_audit "$@"\n' "$out" >"$out.tmp/bin/ssh-audit"
chmod 755 "$out.tmp"/bin/*
rm -rf "$out" && mv "$out.tmp" "$out"
"$out/bin/ssh" -V >&2
echo "$out"
