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
  # charon's curl plugin: its revocation checks fetch our CRLs and ask OCSP responders.
  [ -e /usr/lib/ipsec/plugins/libstrongswan-curl.so ] || need+=(libstrongswan-extra-plugins)
  # FreeRADIUS: the RADIUS server behind EAP pass-through (remote auth eap-radius).
  # (radclient sends the RFC 5176 Disconnect-Requests of the DAE tests.)
  { command -v freeradius && command -v radclient; } >/dev/null 2>&1 || need+=(freeradius freeradius-utils)
fi
# Libreswan's pluto, a second IKEv2 peer to test against. Its package conflicts with strongSwan's
# (installing it removes charon), so it is unpacked, not installed, into /opt/libreswan; its
# libraries come from Debian, and its helpers are linked where pluto looks for them.
LIBRESWAN=/opt/libreswan
fetch_libreswan=
if [ "${1:-}" = "--with-interop" ] && [ ! -x "$LIBRESWAN/usr/libexec/ipsec/pluto" ]; then
  need+=(libnss3-tools libnss3 libnspr4 libcurl3-nss libevent-core-2.1-7 libevent-pthreads-2.1-7
    libldns3 libunbound8 libcap-ng0 libaudit1 libpam0g libldap-2.5-0 dns-root-data)
  fetch_libreswan=1
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ -n "$fetch_libreswan" ]; then
  echo "unpacking libreswan into $LIBRESWAN"
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's download user writes there
  (cd "$tmp" && apt-get download -qq libreswan >/dev/null)
  mkdir -p "$LIBRESWAN"
  dpkg-deb -x "$tmp"/libreswan_*.deb "$LIBRESWAN"
  rm -rf "$tmp"
fi
if [ "${1:-}" = "--with-interop" ] && [ ! -e /usr/libexec/ipsec ]; then
  ln -s "$LIBRESWAN/usr/libexec/ipsec" /usr/libexec/ipsec
fi
