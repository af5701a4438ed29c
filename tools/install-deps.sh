#!/usr/bin/env bash
# Installs everything Quiver needs to build and test, from Debian bookworm's packages.
# Idempotent: does nothing (and needs no network) when every package is already there.
set -euo pipefail

PACKAGES=(
	# build
	g++ make cmake pkg-config
	postgresql-15 postgresql-server-dev-15 postgresql-common
	libhnswlib-dev libxsimd-dev
	# tests and benchmarks
	googletest libgtest-dev libbenchmark-dev
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
	# fuzzing (libFuzzer lives in clang's runtime)
	clang-14 libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
