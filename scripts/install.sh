#!/usr/bin/env bash
# Install nigran and everything it runs with: Debian packages (when root), then a virtualenv.
set -euo pipefail
venv="${1:-.venv}"
cd "$(dirname "$0")/.."

apt_packages=(tor chromium minisign xvfb)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: missing Debian packages (${missing[*]}); run as root or: sudo apt-get install ${missing[*]}" >&2
  fi
fi
# Debian enables tor's system service on install; nigran runs its own tor and needs none listening.
if [[ $(id -u) -eq 0 ]] && pgrep -x tor >/dev/null && command -v systemctl >/dev/null; then
  systemctl disable --now tor >/dev/null 2>&1 || true
fi

[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
# pywb (WACZ replay, used by the evidence tests) pins redis 2.x: it gets a virtualenv of its own.
[[ -x .venv-pywb/bin/wayback ]] || { python3 -m venv .venv-pywb && .venv-pywb/bin/python -m pip install -q \
  --disable-pip-version-check "pywb>=2.8"; }
"$venv/bin/nigran" --version
