#!/usr/bin/env bash
# Installs every Debian package lambdalite needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are skipped, and apt-get runs only when something is
# missing. Needs root (or sudo) the first time on a fresh machine.
set -euo pipefail

packages=(
  # build
  build-essential pkg-config
  libuv1-dev libssl-dev libjansson-dev libsqlite3-dev libarchive-dev libcurl4-openssl-dev libseccomp-dev
  libexpat1-dev zlib1g-dev libfyaml-dev
  # fuzzing (libFuzzer) and the sanitizer runtimes
  clang libclang-rt-14-dev
  # end-to-end tests and the demo: the real AWS CLI v2 and boto3, pytest
  awscli python3-boto3 python3-pytest curl zip unzip
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
