#!/usr/bin/env bash
# Compiles the session launcher (src/launch/launcher.c) into dist/teamssh-launch, the session
# spawner (src/launch/spawner.c) into dist/teamssh-spawner, and the terminal echo probe (src/launch/echo-probe.c) into dist/teamssh-echo-probe.
# Sessions cannot start without it, so a missing compiler is a build failure, not a warning.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/src/launch/launcher.c"
out="$root/dist/teamssh-launch"
cc="${CC:-cc}"

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-launcher: C compiler '$cc' not found; install one (Debian: apt-get install gcc) or set CC" >&2
  exit 1
fi

mkdir -p "$root/dist"
# Build to a temporary name and rename, so a failed build never leaves a half-written launcher.
"$cc" -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src"
chmod 0755 "$out.tmp"
mv -f "$out.tmp" "$out"
echo "build-launcher: built $out"

spawner="$root/dist/teamssh-spawner"
"$cc" -O2 -Wall -Wextra -Werror -o "$spawner.tmp" "$root/src/launch/spawner.c" "$root/src/launch/spawner-json.c"
chmod 0755 "$spawner.tmp"
mv -f "$spawner.tmp" "$spawner"
echo "build-launcher: built $spawner"

probe="$root/dist/teamssh-echo-probe"
"$cc" -O2 -Wall -Wextra -Werror -o "$probe.tmp" "$root/src/launch/echo-probe.c"
chmod 0755 "$probe.tmp"
mv -f "$probe.tmp" "$probe"
echo "build-launcher: built $probe"
