#!/usr/bin/env bash
# Installs what the test suite needs from Debian and npm, idempotently.
# Usage: bash .ci/install_deps.sh [--with-interop]
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v deno >/dev/null 2>&1 || npm install -g deno@2.9.6 >/dev/null
[ -e /usr/lib/x86_64-linux-gnu/libcrypto.so.3 ] || need+=(libssl3)
/usr/bin/python3 -c 'import scapy.layers.ipsec' >/dev/null 2>&1 || need+=(python3-scapy python3-cryptography)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
# strongSwan's `pki` (certificate interop) and tshark (independent IKEv2/ESP dissector) are oracles
# for the unit tests too.
{ command -v pki && [ -e /usr/lib/ipsec/plugins/libstrongswan-openssl.so ]; } >/dev/null 2>&1 || need+=(strongswan-pki libstrongswan-standard-plugins)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
# NAT traversal tests put a MASQUERADE router between two namespaces.
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
if [ "${1:-}" = "--with-interop" ]; then
  { command -v swanctl && [ -e /usr/lib/ipsec/plugins/libstrongswan-openssl.so ] && [ -e /usr/lib/ipsec/plugins/libstrongswan-eap-mschapv2.so ]; } >/dev/null 2>&1 || need+=(strongswan-swanctl charon-systemd libcharon-extra-plugins libcharon-extauth-plugins libstrongswan-standard-plugins strongswan-pki)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
