#!/bin/sh
# Installs what qscope needs to build and test on Debian 12 (run as root). Skips apt when all is present.
set -eu
PKGS="build-essential meson ninja-build pkg-config libgsl-dev check libjansson-dev libzip-dev python3-numpy python3-onnx valgrind gnuplot-nox chromium libprotobuf-c-dev protobuf-c-compiler libonnx-dev libinih-dev python3-torch"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
