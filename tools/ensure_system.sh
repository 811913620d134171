#!/usr/bin/env bash
# Installs the Debian tools the test suite runs against (tshark decodes our
# captures, xl2tpd is a real L2TP peer). Runs as root on CI; elsewhere it says
# what is missing and fails, because a suite that skips those tests would lie.
set -euo pipefail
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v xl2tpd >/dev/null 2>&1 || need+=(xl2tpd)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_system: missing ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "ensure_system: installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
