#!/usr/bin/env bash
# The sdist builds and passes its own tests: build it, install it with its test extra
# into a fresh venv (pip compiles it there, with build isolation, as a user without a
# matching wheel would), unpack it elsewhere and run its tests against the installed
# package.
#
#   tools/check_sdist.sh [PYTEST ARGS ...]     default: the whole suite, -q
#
# PYTHON: the interpreter (default: python3).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="${NNFAST_SDIST_WORK:-$ROOT/build/sdist-check}"
rm -rf "$WORK" && mkdir -p "$WORK"
pipq() { "$@" 2> >(grep -v "^WARNING: Location '" >&2); }

venv="$WORK/venv"
"$PYTHON" -m venv "$venv"
pipq "$venv/bin/python" -m pip install --quiet --upgrade pip build

echo "check_sdist: building the sdist"
(cd "$ROOT" && pipq "$venv/bin/python" -m build --sdist --outdir "$WORK/dist" . > "$WORK/sdist.log" 2>&1) \
    || { tail -n 30 "$WORK/sdist.log" >&2; exit 1; }
sdist="$(ls "$WORK"/dist/nnfast-*.tar.gz)"
echo "check_sdist: $(basename "$sdist"), $(tar -tzf "$sdist" | grep -vc '/$') files; installing it with [test]"
pipq "$venv/bin/python" -m pip install --quiet "$sdist[test]" > "$WORK/install.log" 2>&1 \
    || { tail -n 30 "$WORK/install.log" >&2; exit 1; }

mkdir -p "$WORK/tree"
tar -xzf "$sdist" -C "$WORK/tree" --strip-components=1
# the unpacked nnfast/ has no compiled core; the tests import the installed package (the
# pytest script puts tests/ on sys.path, not the tree's root) and read the tree's sources
cd "$WORK/tree"
(cd / && "$venv/bin/python" -c 'import nnfast; print("check_sdist: testing", nnfast.__file__)')
if [ "$#" -eq 0 ]; then set -- -q; fi
"$venv/bin/pytest" -p no:cacheprovider "$@"
