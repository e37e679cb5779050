#!/usr/bin/env bash
# Installs the Debian packages Earshot's build, tests and demo use, when missing (needs root or sudo).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
[ -x /usr/bin/time ] || need+=(time)   # GNU time: the memory tests read the child's peak RSS from it
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
# nginx: the `earshot serve` pool test runs three servers behind deploy/nginx/earshot-pool.conf
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
