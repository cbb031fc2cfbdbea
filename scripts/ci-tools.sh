#!/usr/bin/env bash
# Installs the tools the delivery tests use (issue 15), idempotently, so that `.ci/run` (and a
# developer) can run them for real: Debian's openssh-server (the fleet's hosts), rpm
# (`rpm -qlp`), iproute2 (network namespaces), man-db (`man carbon-patch`); a Python venv at
# target/tools/venv with ansible-core (the collection's sanity and integration runs),
# cargo-zigbuild and ziglang (the glibc 2.17 release build); and the cargo tools that build
# the packages, under target/tools/cargo. Tests that need any of these print SKIPPED and
# why when it is missing; this script is what makes them run.
#
# Network is used here, never by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/tools"
mkdir -p "$tools"

# --- Debian packages -------------------------------------------------------------------
missing=()
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null || missing+=(openssh-client)
command -v rpm >/dev/null || missing+=(rpm)
command -v ip >/dev/null || missing+=(iproute2)
command -v man >/dev/null && [ -x /usr/bin/mandb ] || missing+=(man-db)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python tools (section: ansible and zig) ---------------------------------------------
if [ ! -x "$tools/venv/bin/python" ]; then
    python3 -m venv "$tools/venv"
fi
"$tools/venv/bin/pip" install -q --disable-pip-version-check \
    'ansible-core==2.19.14' 'cargo-zigbuild==0.24.1' 'ziglang==0.15.2'
# `ansible-test sanity` builds its own environment per test and would fetch their packages
# (and a pip bootstrap script) from the network at test time: the wheels it needs are
# downloaded here once, and contrib/ansible/tests/sanity.sh points it at them.
reqs=$("$tools/venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')
"$tools/venv/bin/pip" download -q --disable-pip-version-check --only-binary=:all: -d "$tools/wheels" 'pip==24.2' \
    -r "$reqs/sanity.ansible-doc.txt" -r "$reqs/sanity.import.txt" -r "$reqs/sanity.import.plugin.txt" \
    -r "$reqs/sanity.pep8.txt" -r "$reqs/sanity.pylint.txt" -r "$reqs/sanity.runtime-metadata.txt" \
    -r "$reqs/sanity.validate-modules.txt" -r "$reqs/sanity.yamllint.txt"

# --- cargo tools (section: packages) ------------------------------------------------------
# scripts/release.sh builds the .deb and the .rpm with Debian's dpkg-deb and rpmbuild (from the
# rpm package above), not cargo-deb and cargo-generate-rpm: `cargo install --locked
# cargo-deb@3.8.0 cargo-generate-rpm@0.21.1` took 5 min 56 s on 2 cores, dpkg-deb and
# rpmbuild take seconds. What it needs from here: rpmbuild, and every crate of Cargo.lock in
# cargo's cache, so the release build (tests/release.rs runs it with CARGO_NET_OFFLINE) never
# reaches the network.
if ! command -v rpmbuild >/dev/null || ! command -v dpkg-deb >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends rpm dpkg >/dev/null
fi
cargo fetch --locked --target x86_64-unknown-linux-gnu

echo "tools ready in $tools"
