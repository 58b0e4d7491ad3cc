#!/bin/sh
# The whole test suite: dependencies, a -Werror build with unit + cli tests, the unit tests under valgrind, and
# everything again in an ASan+UBSan build. CI (.ci/run) runs exactly this.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build -Dwerror=true
meson configure build -Dwerror=true
ninja -C build
meson test -C build --print-errorlogs
meson test -C build --print-errorlogs --setup valgrind --suite unit
[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
ninja -C build-asan
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	meson test -C build-asan --print-errorlogs
