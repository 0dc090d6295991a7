#!/usr/bin/env bash
# Set up everything ocp-airgap needs on a Debian/Ubuntu machine: system packages (real registry server,
# skopeo, a Secret Service for the keyring tests, tmux, kubectl, GnuPG as an independent OpenPGP peer, gettext
# for the message catalogue check, procps for pgrep) and the project's virtualenv in .venv.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(docker-registry skopeo apache2-utils gnome-keyring libsecret-tools dbus tmux openssl python3-venv ca-certificates gnupg gpgv gettext procps)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl: used only by tests that check the simulated API with the real client; any kubectl will do.
if ! command -v kubectl >/dev/null 2>&1; then missing+=(kubernetes-client); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
echo "bootstrap: ready ($(.venv/bin/ocp-airgap --version))"
