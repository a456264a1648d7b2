#!/usr/bin/env bash
# Regenerate the kernbench trace shipped in maple/trace/data/.
#
# What it records: `make -j2` building brotli 1.2.1 (the C library under c/common, c/dec,
# c/enc and the c/tools/brotli command-line tool, 36 translation units and one link) with the
# system C compiler, from the sdist on PyPI. The build uses a small Makefile written below
# (the sdist ships CMake files, and CMake is not needed to compile 36 files).
#
# Usage: scripts/record_kernbench.sh [OUTPUT]   (default: maple/trace/data/kernbench-brotli.trace.gz)
# Needs: strace, make, a C compiler, network access to PyPI (pip download), ptrace permission.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/maple/trace/data/kernbench-brotli.trace.gz}")
py=${PYTHON:-$root/.venv/bin/python}
version=1.2.1
sha256=02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de

work=$(mktemp -d "${TMPDIR:-/tmp}/maplebench-kernbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

"$py" -m pip download --quiet --no-binary :all: --no-deps --dest . "brotli==$version"
echo "$sha256  brotli-$version.tar.gz" | sha256sum --check --quiet
tar xzf "brotli-$version.tar.gz"
cd "brotli-$version"

cat > Makefile.maplebench <<'MAKEFILE'
SRCS := $(sort $(wildcard c/common/*.c c/dec/*.c c/enc/*.c)) c/tools/brotli.c
OBJS := $(SRCS:.c=.o)
CFLAGS ?= -O2
brotli: $(OBJS)
	$(CC) -o $@ $(OBJS) -lm
%.o: %.c
	$(CC) $(CFLAGS) -Ic/include -c -o $@ $<
MAKEFILE

"$py" -m maplebench record -o "$out" -- make -f Makefile.maplebench -j2 >/dev/null
ls -l "$out"
