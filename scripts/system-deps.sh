#!/usr/bin/env bash
# Debian packages the test suite needs (a real OpenSSH server for the SSH tests).
# Installs them when missing and when we are root; otherwise says what is missing.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v sudo >/dev/null || need+=(sudo)
# the provider helper (bot/ssh/gpuflow-helper) runs under the system python3
[ -x /usr/bin/python3 ] || need+=(python3)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then
  echo "system-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # the package's postinst may start a system sshd on port 22; our tests run their own
  command -v systemctl >/dev/null && systemctl disable --now ssh >/dev/null 2>&1 || true
else
  echo "system-deps: missing ${need[*]} (run as root to install); the tests that need them will fail" >&2
fi
