#!/usr/bin/env bash
# Debian packages Portcullis's system tests and benchmarks need. Idempotent: installs only what is
# missing. Never starts services (fail2ban's package would otherwise start a daemon on the host's
# own firewall) and never touches the host's firewall.
set -euo pipefail
# socat: the namespace lab's echo server on port 22 and its held connections; curl: serve's token check from inside a namespace.
# gcc, libc6-dev: the soak bench compiles its spoofed-SYN generator (bench/soak/syn-flood.c).
# crowdsec: the fleet tests run private Local APIs (tests/support/lapi.ts), never the system service.
PKGS=(ufw iptables ipset nftables conntrack iproute2 socat curl chromium fail2ban python3-pyinotify procps systemd logrotate gcc libc6-dev crowdsec)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
# crowdsec's post-install registers with the central API, which needs the internet and leaves the
# package half-configured without it: a credentials file with only a comment makes it skip that
# (README.Debian). Its service is never started (policy-rc.d above; tests run private instances).
if [[ " ${missing[*]} " == *" crowdsec "* ]] && [ ! -e /etc/crowdsec/online_api_credentials.yaml ]; then
  mkdir -p /etc/crowdsec
  echo '# offline: no central API (Portcullis tests use private Local APIs)' > /etc/crowdsec/online_api_credentials.yaml
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
