#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, unless they are already there.
set -euo pipefail
packages=(postgresql skopeo podman crun uidmap golang-github-containers-common nginx apache2 ruby-rest-client curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" \
  || { $sudo apt-get update -q && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
