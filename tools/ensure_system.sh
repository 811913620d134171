#!/usr/bin/env bash
# Installs the Debian tools the test suite runs against (tshark decodes our
# captures; xl2tpd and l2tpns are real L2TP peers, in network namespaces made
# with iproute2 and util-linux's unshare). Runs as root on CI; elsewhere it
# says what is missing and fails, because a suite that skips those tests would
# lie.
set -euo pipefail
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
[ -x /usr/sbin/xl2tpd ] || need+=(xl2tpd)
[ -x /usr/sbin/l2tpns ] || need+=(l2tpns)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -ne 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_system: missing ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "ensure_system: installing ${need[*]} from Debian" >&2
  # The xl2tpd and l2tpns packages start their daemon on the host, which would hold port 1701
  # (and l2tpns a tun0) under the tests: keep services down while installing (invoke-rc.d asks
  # policy-rc.d; 101 is "action forbidden").
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# l2tpns needs a TUN device; a container may come without the node.
if [ ! -c /dev/net/tun ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_system: /dev/net/tun is missing (l2tpns needs it)" >&2
    exit 1
  fi
  mkdir -p /dev/net
  mknod /dev/net/tun c 10 200
  chmod 600 /dev/net/tun
fi
