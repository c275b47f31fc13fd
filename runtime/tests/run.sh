#!/usr/bin/env bash
# Tests liblambdalite-runtime against a fake Runtime API (runtime/tests/fake_api.py).
#
#   runtime/tests/run.sh                                  the normal build (build/)
#   SANITIZE=address,undefined runtime/tests/run.sh       the sanitizer build (build-san/)
#
# Builds the library and examples/echo with make, builds runtime/tests/test_handler.c against
# the library, then runs every scenario. Exits non-zero if any check fails.
set -euo pipefail

cd "$(dirname "$0")/../.."
SANITIZE=${SANITIZE:-}
if [ -n "$SANITIZE" ]; then
  BUILD=build-san
  SANFLAGS="-fsanitize=$SANITIZE -fno-omit-frame-pointer -fno-sanitize-recover=all"
  OPT=-O1
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  BUILD=build
  SANFLAGS=""
  OPT=-O2
fi

make -s SANITIZE="$SANITIZE" "$BUILD/liblambdalite-runtime.a" "$BUILD/examples/echo/bootstrap"
mkdir -p "$BUILD/runtime-tests"
# shellcheck disable=SC2086  # SANFLAGS is a list of flags
cc -std=gnu11 $OPT -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
  -D_GNU_SOURCE -Iruntime $SANFLAGS -o "$BUILD/runtime-tests/test_handler" \
  runtime/tests/test_handler.c "$BUILD/liblambdalite-runtime.a" -lm

failed=0
run() {
  if ! /usr/bin/python3 runtime/tests/fake_api.py "$1" "$2"; then
    failed=$((failed + 1))
  fi
}
echo_fn="$BUILD/examples/echo/bootstrap"
api_fn="$BUILD/runtime-tests/test_handler"
run echo "$echo_fn"
run echo-crash "$echo_fn"
run api "$api_fn"
run init-error "$api_fn"
run no-api "$api_fn"
run refused "$api_fn"
run connect-timeout "$api_fn"
run wire "$api_fn"

if [ "$failed" -ne 0 ]; then
  echo "runtime tests: $failed scenario(s) failed"
  exit 1
fi
echo "runtime tests: all scenarios passed${SANITIZE:+ (SANITIZE=$SANITIZE)}"
