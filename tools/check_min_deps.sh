#!/usr/bin/env bash
# Install nnfast with the LOWEST versions its metadata allows of its dependencies
# (numpy, scipy-openblas32) and of its tune and sklearn extras (optuna, matplotlib,
# scikit-learn) into a fresh venv, and run tools/smoke_test.py --sklearn --optuna there.
# A failure means a lower bound in pyproject.toml is a lie: raise it.
#
#   tools/check_min_deps.sh [WHEEL]
#
# WHEEL: an nnfast wheel for the Python below (e.g. one from tools/build_wheels.sh);
# without it, one is built from the checkout with `pip wheel` (build isolation, so it is
# compiled against the newest scipy-openblas32 headers, as a released wheel is, and then
# run against the oldest library the metadata admits).
# PYTHON: the interpreter (default CPython 3.10, the oldest supported: the oldest numpy
# allowed has no wheels for newer Pythons).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$(ls -d /root/.pyenv/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -n 1)}"
[ -x "$PYTHON" ] || { echo "check_min_deps: set PYTHON to a CPython 3.10 interpreter" >&2; exit 1; }
WORK="${NNFAST_MINDEPS_WORK:-$ROOT/build/min-deps}"
mkdir -p "$WORK"
# pip, minus the warnings about configured local index folders that do not exist here
pipq() { "$@" 2> >(grep -v "^WARNING: Location '" >&2); }

# name==lower-bound for every `name>=x` requirement of the dependencies and the extras
pins="$("$PYTHON" - "$ROOT/pyproject.toml" <<'EOF'
import re
import sys

try:
    import tomllib
except ImportError:  # Python 3.10 has no tomllib; read the few lines we need
    tomllib = None

text = open(sys.argv[1], encoding="utf-8").read()
if tomllib is not None:
    project = tomllib.loads(text)["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["tune"] + project["optional-dependencies"]["sklearn"]
else:
    def array(key, section_text):
        m = re.search(rf"^{key}\s*=\s*\[(.*?)\]", section_text, flags=re.M | re.S)
        return re.findall(r'"([^"]+)"', m.group(1))
    project_text = text.split("[project]", 1)[1].split("\n[", 1)[0]
    extras_text = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    reqs = array("dependencies", project_text) + array("tune", extras_text) + array("sklearn", extras_text)
for req in reqs:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)(,.*)?", req.strip())
    if not m:
        sys.exit(f"check_min_deps: no lower bound to pin in {req!r}")
    print(f"{m.group(1)}=={m.group(2)}")
EOF
)"
mapfile -t pin_list <<< "$pins"
echo "check_min_deps: $("$PYTHON" --version); lowest allowed: ${pin_list[*]}"

wheel="${1:-}"
if [ -z "$wheel" ]; then
    rm -rf "$WORK/dist"
    benv="$WORK/build-env"
    [ -x "$benv/bin/python" ] || "$PYTHON" -m venv "$benv"
    pipq "$benv/bin/python" -m pip install --quiet --upgrade pip
    echo "check_min_deps: building a wheel (log: $WORK/build.log)"
    (cd "$ROOT" && pipq "$benv/bin/python" -m pip wheel . --no-deps --wheel-dir "$WORK/dist" > "$WORK/build.log" 2>&1) \
        || { tail -n 30 "$WORK/build.log" >&2; exit 1; }
    wheel="$(ls "$WORK"/dist/nnfast-*.whl)"
fi

venv="$WORK/venv"
"$PYTHON" -m venv --clear "$venv"
pipq "$venv/bin/python" -m pip install --quiet --upgrade pip
pipq "$venv/bin/python" -m pip install --quiet "$wheel" "${pin_list[@]}" > "$WORK/install.log" 2>&1 \
    || { tail -n 30 "$WORK/install.log" >&2; exit 1; }
echo "check_min_deps: installed $("$venv/bin/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(nnfast|numpy|scipy-openblas32|scipy_openblas32|optuna|matplotlib|scikit-learn|scikit_learn|scipy)==' | tr '\n' ' ')"
cd "$WORK" && "$venv/bin/python" -I "$ROOT/tools/smoke_test.py" --sklearn --optuna
