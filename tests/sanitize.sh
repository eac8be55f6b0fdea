#!/usr/bin/env bash
# The test suite against nnfast's core built with AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   bash tests/sanitize.sh                 # the default suite: ~2 min of build + ~1.5 min of tests here
#   bash tests/sanitize.sh --quick         # the core's own tests: ~2 min of build + ~35 s
#   bash tests/sanitize.sh -- -k fuzz      # anything after -- goes to pytest
#
# What it does:
# - copies what the tests need (nnfast/, tests/, csrc/, examples/, tools/ and the top-level files) to
#   build/sanitize/tree/ (override build/sanitize with NNFAST_SANITIZE_DIR) and compiles
#   nnfast._core there, with one g++ call (no setup.py: its -O3 would come last), with
#   -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1 and -fno-wrapv (Python's
#   own CFLAGS carry -fwrapv, which defines signed overflow and hides it from UBSan):
#   the normal in-place build (nnfast/_core*.so) is never replaced;
# - runs pytest in that copy, with the copy first on PYTHONPATH, so pytest and every
#   `python -c` child the tests start import the sanitized core;
# - runs pytest with LD_PRELOAD of the compiler's libasan (the Python interpreter is not
#   instrumented, and the ASan runtime must come before every other library), and
#     ASAN_OPTIONS=detect_leaks=0   Python's own allocations at exit would drown the report
#       allocator_may_return_null=1   a request too large to serve returns NULL, as glibc's
#                                     malloc does (NumPy then raises MemoryError), instead of
#                                     aborting the whole run
#       hard_rss_limit_mb=12288       a run that grows past 12 GiB (the suite peaks near 2.5 GiB)
#                                     stops with a report instead of being killed by the
#                                     kernel's OOM killer without a word
#     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1   undefined behaviour fails the run
#   and LD_PRELOAD of libstdc++ too (Python does not link it, and ASan must find the real
#   __cxa_throw when it starts). ASan aborts the process on the first error it finds, so a
#   finding is a failed test or a crashed pytest; every report is also written to
#   build/sanitize/tree/reports/ and printed at the end, and any report fails the run.
#
# Needs g++ with libasan/libubsan and pybind11 importable in the running Python (the
# build uses its headers: `pip install pybind11`).
#
# Deselected (they measure the process, which ASan changes, not the core): peak-memory
# tests (ASan's shadow memory and quarantine count in ru_maxrss) and the allocation
# counter (it replaces operator new, as ASan does).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --) shift; pytest_args+=("$@"); break ;;
        *) pytest_args+=("$1") ;;
    esac
    shift
done

out="${NNFAST_SANITIZE_DIR:-build/sanitize}"
tree="$out/tree"
# -O1: ASan's own advice (readable stacks, few false negatives); the release flags that
# change floating-point semantics are kept so that the tests' expectations hold
flags=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fno-wrapv -g -O1
       -fno-math-errno -fno-trapping-math)
if ! python -c "import pybind11" 2>/dev/null; then
    echo "sanitize: needs pybind11's headers in this Python (pip install pybind11)" >&2
    exit 1
fi
read -r pybind_include python_include ob_include ob_lib ob_name suffix version < <(python - <<'PY'
import re, sysconfig, pybind11, scipy_openblas32 as ob
version = re.search(r'VERSION = "([^"]+)"', open("setup.py").read()).group(1)
print(pybind11.get_include(), sysconfig.get_paths()["include"], ob.get_include_dir(), ob.get_lib_dir(),
      ob.get_library(), sysconfig.get_config_var("EXT_SUFFIX"), version)
PY
)

# a copy of the tree the tests need, with the sanitized module in its package: pytest runs
# there, so `import nnfast` (and every child's, through PYTHONPATH) finds this build first
rm -rf "$tree"
mkdir -p "$tree"
cp -r nnfast tests csrc examples tools pyproject.toml setup.py README.md LICENSE MANIFEST.in "$tree/"
find "$tree/nnfast" \( -name '_core*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +
echo "sanitize: building nnfast._core with ${flags[*]} into $tree/nnfast/"
${CXX:-g++} -std=c++17 -shared -fPIC -fvisibility=hidden "${flags[@]}" \
    -Icsrc -I"$pybind_include" -I"$python_include" -I"$ob_include" \
    -DNNFAST_BLAS_SCIPY_OPENBLAS=1 "-DNNFAST_VERSION=\"$version\"" \
    csrc/bindings.cpp -L"$ob_lib" -l"$ob_name" -Wl,-rpath,"$ob_lib" -o "$tree/nnfast/_core$suffix"

libasan="$(${CXX:-g++} -print-file-name=libasan.so)"
# libstdc++ preloaded too: ASan resolves the real __cxa_throw when it starts, and Python
# itself does not link libstdc++ (without it the first C++ exception is a CHECK failure)
libstdcxx="$(${CXX:-g++} -print-file-name=libstdc++.so)"
for lib in "$libasan" "$libstdcxx"; do
    if [ ! -e "$lib" ]; then
        echo "sanitize: the compiler has no $lib" >&2
        exit 1
    fi
done

deselect=(
    --deselect tests/test_sizes.py::test_loading_allocates_about_the_file_not_four_times_it
    --deselect tests/test_model_files.py::test_a_gigabyte_of_zeros_is_refused_without_reading_it
    --deselect tests/test_model_files.py::test_a_header_declaring_more_than_the_file_holds_is_refused_before_reading
    --deselect tests/test_allocations.py
)
if [ "$quick" = 1 ]; then
    # the core's own tests: concurrency, sizes, model files, threads, kernels, gradients, I/O
    targets=(tests/test_concurrency.py tests/test_sizes.py tests/test_model_files.py tests/test_threads.py
             tests/test_kernels.py tests/test_gradients.py tests/test_io.py tests/test_optimizers.py
             tests/test_hardening.py)
else
    targets=(tests)
fi

echo "sanitize: running pytest in $tree"
cd "$tree"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$libasan:$libstdcxx"
# reports go to files too: pytest captures stderr, and an aborting process never shows it
rm -rf reports && mkdir reports
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:hard_rss_limit_mb=12288:log_path=$PWD/reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$PWD/reports/ubsan"
python -c "import nnfast; assert nnfast.__file__.startswith('$PWD/'), nnfast.__file__"
status=0
python -m pytest -q -p no:cacheprovider "${deselect[@]}" "${targets[@]}" "${pytest_args[@]}" || status=$?
if compgen -G "reports/*" > /dev/null; then
    echo "sanitize: reports (also in $tree/reports/):"
    cat reports/*
    status=1
fi
echo "sanitize: pytest exit status $status, $(ls reports | wc -l) sanitizer report(s)"
exit "$status"
