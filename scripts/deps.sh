#!/usr/bin/env bash
# Installs the Debian 12 packages logq needs to build, test and run, if any are missing.
# Everything comes from Debian's archive; nothing is downloaded during the build itself.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  librocksdb-dev libzstd-dev libre2-dev nlohmann-json3-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev libboost-dev libsnappy-dev libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libgtest-dev libgmock-dev zlib1g-dev libxxhash-dev liblz4-dev libssl-dev
  libsystemd-dev  # logq-shipper's journal scrape config (sd-journal)
  systemd-journal-remote  # tests: writes journal files from the export format, no journald needed
  clang-14 libclang-rt-14-dev  # the libFuzzer targets (scripts/fuzz.sh, docs/fuzzing.md)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "logq: installing missing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "logq: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
