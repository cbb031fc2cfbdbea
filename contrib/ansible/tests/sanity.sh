#!/usr/bin/env bash
# `ansible-test sanity` for the carbonpatch.carbon_patch collection, offline.
#
# ansible-test runs most sanity tests in virtual environments of its own, with the exact
# versions it pins (its _data/requirements/sanity.*.txt), and normally bootstraps pip into
# them from the internet. Here nothing is downloaded: scripts/ci-tools.sh put those pinned
# wheels (and pip's) in target/tools/wheels, pip is told to use only them (PIP_NO_INDEX,
# PIP_FIND_LINKS), and ansible-test's pip bootstrap script is replaced by a few lines that
# install pip from that wheel (written into a private HOME, where ansible-test looks for its
# cached bootstrap script). The collection is copied to a temporary
# .../ansible_collections/carbonpatch/carbon_patch, the layout ansible-test needs (and so
# its tests/output never lands in the work tree).
#
# Prints `SKIPPED: <reason>` and exits 0 when the tools are missing; exit 1 when a sanity
# test fails. Usage: bash contrib/ansible/tests/sanity.sh [extra ansible-test arguments]
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
collection=$repo/contrib/ansible/ansible_collections/carbonpatch/carbon_patch
venv=${CARBON_PATCH_VENV:-$repo/target/tools/venv}
wheels=${CARBON_PATCH_WHEELS:-$repo/target/tools/wheels}

if [ ! -x "$venv/bin/ansible-test" ]; then
    echo "SKIPPED: no ansible-test in $venv (run: bash scripts/ci-tools.sh)"
    exit 0
fi
# The pip version ansible-test bootstraps into its environments, from its own source.
pip_version=$("$venv/bin/python" - <<'EOF'
import re
from ansible_test._internal import python_requirements
source = open(python_requirements.__file__).read()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
EOF
)
shopt -s nullglob
pip_wheels=("$wheels"/pip-"$pip_version"-*.whl)
shopt -u nullglob
if [ ${#pip_wheels[@]} -eq 0 ]; then
    echo "SKIPPED: no pip $pip_version wheel in $wheels, the wheels ansible-test sanity installs offline (run: bash scripts/ci-tools.sh)"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/carbon-patch-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A HOME of its own: ansible-test keeps its environments in ~/.ansible/test/venv (kept
# between runs under target/, since building them takes most of a first run) and looks for
# its pip bootstrap script in ~/.ansible/test/cache.
home=${CARBON_PATCH_SANITY_HOME:-$repo/target/tools/ansible-test-home}
cache=$home/.ansible/test/cache
mkdir -p "$cache"
cat >"$cache/get_pip_${pip_version//./_}.py" <<EOF
# Offline stand-in for get-pip.py: ansible-test runs it with pip's install arguments (and
# get-pip's own --no-setuptools/--no-wheel); pip is run from its wheel, from the wheelhouse.
import runpy
import sys

wheel = "${pip_wheels[0]}"
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.path.insert(0, wheel)
sys.argv = ["pip", "install", "--no-index", "--find-links", "$wheels"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
EOF

# ansible-test passes pip only HOME and PATH from the environment: the wheelhouse-only
# setting goes in the private HOME's pip.conf.
mkdir -p "$home/.config/pip"
cat >"$home/.config/pip/pip.conf" <<EOF
[global]
no-index = true
find-links = $wheels
disable-pip-version-check = true
EOF

dest=$work/ansible_collections/carbonpatch/carbon_patch
mkdir -p "$(dirname "$dest")"
cp -a "$collection" "$dest"
rm -rf "$dest/tests/output"

cd "$dest"
echo "ansible-test sanity on carbonpatch.carbon_patch ($("$venv/bin/ansible-test" --version 2>/dev/null | head -n1)), offline"
env HOME="$home" PIP_NO_INDEX=1 PIP_FIND_LINKS="$wheels" PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="$venv/bin:$PATH" \
    "$venv/bin/ansible-test" sanity --local --python 3.11 --color no "$@"
echo "sanity: passed"
