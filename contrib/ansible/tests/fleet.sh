#!/usr/bin/env bash
# The carbonpatch.carbon_patch collection, run for real against a fleet of three hosts.
#
# Each host is a network namespace (cpfleet1..3) joined to this one by a veth pair
# (10.233.N.1 here, 10.233.N.2 there) and running its own sshd (its own config and host key,
# port 22 on the namespace's address only, root login with a key made for this run, no PAM).
# Ansible reaches them over ssh like any fleet. The namespaces share the filesystem, so
# each host gets its own product home (a copy of fixtures/sample-product) under its own
# directory, named in its host_vars; the carbon-patch binary is shared.
#
# What it checks (each failure stops the script with `FAIL: ...` and exit 1):
#   1. check mode on the unpatched fleet: every host would change, no tree changes;
#   2. the rolling playbook (role, handlers, serial 1) patches every host, stopping and
#      starting each server around its change, one host after the other; verify passes;
#   3. a second run changes nothing (changed=0 in the PLAY RECAP, no server stopped);
#   4. a patch archive (`archives:`) is added on one host; a second run with it changes nothing;
#   5. a corrupt jar in a new patch of the second host fails that host before its server is
#      stopped, and with serial 1 the third host is never touched;
#   6. state rolled_back returns every host to its patch0000 backup, and a second rollback
#      changes nothing.
#
# Needs root, `ip netns`, Debian's openssh-server and openssh-client, and the tools venv
# (target/tools/venv, made by scripts/ci-tools.sh); prints `SKIPPED: <reason>` and exits 0
# without them. No network beyond the namespaces it makes; everything it made (namespaces,
# sshd processes, temporary files) is removed on exit, failure included.
#
# Environment: CARBON_PATCH_BIN (default target/debug/carbon-patch), CARBON_PATCH_ARCHIVE (a
# WSO2-CARBON-PATCH-4.4.9-0006.zip; default: made with target/debug/gen-patch-archive).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
venv=${CARBON_PATCH_VENV:-$repo/target/tools/venv}
bin=${CARBON_PATCH_BIN:-$repo/target/debug/carbon-patch}
sshd=/usr/sbin/sshd
hosts=(h1 h2 h3)

skip() {
    echo "SKIPPED: $*"
    exit 0
}

# ----------------------------------------------------------------------------- can it run
[ "$(id -u)" -eq 0 ] || skip "fleet.sh needs root (network namespaces, sshd)"
command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"
ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"
[ -x "$sshd" ] || skip "no $sshd (Debian package openssh-server)"
command -v ssh >/dev/null || skip "no ssh (Debian package openssh-client)"
command -v ssh-keygen >/dev/null || skip "no ssh-keygen (Debian package openssh-client)"
[ -x "$venv/bin/ansible-playbook" ] || skip "no ansible-playbook in $venv (run: bash scripts/ci-tools.sh)"
command -v flock >/dev/null || skip "no flock (Debian package util-linux)"

case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
if [ ! -x "$bin" ]; then
    echo "FAIL: no carbon-patch binary at $bin (cargo build, or set CARBON_PATCH_BIN)" >&2
    exit 1
fi

# One fleet at a time on this machine (the namespace names and addresses are fixed): the
# lock is on this script itself, so nothing is left behind.
exec 9<"$0"
flock -w 600 9 || { echo "FAIL: another fleet.sh run holds the lock on $0" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/carbon-patch-fleet.XXXXXX")
made_run_sshd=
log=$work/logs
mkdir -p "$log"

# Ends the processes inside one of our namespaces (its sshd and the sessions it forked:
# only this script starts anything there), then removes the namespace and its veth pair.
drop_namespace() {
    local ns=$1 pids
    ip netns list 2>/dev/null | grep -qw "^$ns" || return 0
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null || true
        for _ in $(seq 50); do
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            [ -z "$pids" ] && break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$ns" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ] && [ -d "$log" ]; then
        for f in "$log"/*.log; do
            [ -e "$f" ] || continue
            echo "----- $(basename "$f")"
            tail -n 80 "$f"
        done
        for h in "${hosts[@]}"; do
            [ -s "$work/$h/sshd.log" ] && { echo "----- $h sshd.log"; tail -n 20 "$work/$h/sshd.log"; }
        done
    fi
    for i in 1 2 3; do drop_namespace "cpfleet$i"; done
    rm -rf "$work"
    [ -n "$made_run_sshd" ] && rmdir /run/sshd 2>/dev/null
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
passed=0
pass() {
    passed=$((passed + 1))
    echo "  ok: $*"
}
expect() { # what actual wanted
    [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
    pass "$1"
}

# A product tree's state: every path, type, size, mode, mtime and link, and every file's MD5.
snapshot() {
    (
        cd "$1"
        find . -printf '%p %y %s %m %T@ %l\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum
    )
}

# json FILE EXPR: EXPR (Python, over the document `d`) evaluated on a JSON file.
json() {
    "$venv/bin/python" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2"
}

# recap LOG HOST FIELD: FIELD (ok, changed, failed...) of HOST in the log's PLAY RECAP;
# empty when the host is not there.
recap() {
    awk -v h="$2" -v f="$3" '
        /^PLAY RECAP/ { r = 1; next }
        r && $1 == h { for (i = 3; i <= NF; i++) { split($i, a, "="); if (a[1] == f) print a[2] } }
    ' "$1"
}

# playbook NAME [ansible-playbook arguments]: runs it, output in $log/NAME.log; returns
# ansible-playbook's exit code.
playbook() {
    local name=$1
    shift
    local rc=0
    (cd "$work" && timeout 300 "$venv/bin/ansible-playbook" "$@") >"$log/$name.log" 2>&1 || rc=$?
    echo "  ran ansible-playbook $* (rc $rc)"
    return "$rc"
}

# ----------------------------------------------------------------------------- the fleet
echo "fleet: carbon-patch $bin"
# A copy of its own: a `cargo build` elsewhere while the fleet runs must not swap the binary
# under it (the role's install step would see a new file and report a change).
cp "$bin" "$work/carbon-patch"
bin=$work/carbon-patch
version=$("$venv/bin/ansible-playbook" --version)
echo "fleet: ${version%%$'\n'*}"

# Leftovers of a run that was killed before its trap ran (we hold the lock: nobody else's).
for i in 1 2 3; do drop_namespace "cpfleet$i"; done

if [ ! -d /run/sshd ]; then
    mkdir -m 755 /run/sshd # sshd's privilege separation directory
    made_run_sshd=1
fi

archive=${CARBON_PATCH_ARCHIVE:-}
if [ -z "$archive" ]; then
    gen=$repo/target/debug/gen-patch-archive
    if [ ! -x "$gen" ]; then
        (cd "$repo" && cargo build -q -p carbon-fixtures --bin gen-patch-archive) || fail "could not build gen-patch-archive"
    fi
    "$gen" "$work/archive" >/dev/null
    archive=$work/archive/WSO2-CARBON-PATCH-4.4.9-0006.zip
fi
[ -f "$archive" ] || fail "no patch archive at $archive"

ssh-keygen -q -t ed25519 -N '' -C carbon-patch-fleet -f "$work/id_ed25519"
mkdir -p "$work/inventory/host_vars" "$work/inventory/group_vars" "$work/cp" "$work/remote-tmp"
{
    echo "[fleet]"
    for i in 1 2 3; do echo "h$i ansible_host=10.233.$i.2"; done
} >"$work/inventory/hosts.ini"

for i in 1 2 3; do
    h=h$i ns=cpfleet$i dir=$work/h$i
    mkdir -p "$dir/results"
    cp -a "$repo/fixtures/sample-product" "$dir/product"

    ip netns add "$ns"
    ip link add "$ns" type veth peer name eth0 netns "$ns"
    ip addr add "10.233.$i.1/24" dev "$ns"
    ip link set "$ns" up
    ip -n "$ns" addr add "10.233.$i.2/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up

    ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$dir/ssh_host_ed25519_key"
    cat >"$dir/sshd_config" <<EOF
Port 22
ListenAddress 10.233.$i.2
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $work/id_ed25519.pub
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 30
Subsystem sftp internal-sftp
EOF
    "$sshd" -t -f "$dir/sshd_config" || fail "$h: sshd -t refused its config"
    ip netns exec "$ns" "$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log"

    cat >"$work/inventory/host_vars/$h.yml" <<EOF
host_dir: $dir
carbon_patch_product_home: $dir/product
EOF
done

cat >"$work/inventory/group_vars/fleet.yml" <<EOF
ansible_user: root
ansible_ssh_private_key_file: $work/id_ed25519
ansible_python_interpreter: $venv/bin/python
carbon_patch_binary: $bin
carbon_patch_wait: 10
# The "server": every stop and start is a line in one file, so the order across hosts shows.
carbon_server_stop_command: sh -c 'echo "{{ inventory_hostname }} stop" >> $work/events'
carbon_server_start_command: sh -c 'echo "{{ inventory_hostname }} start" >> $work/events'
EOF

cat >"$work/ansible.cfg" <<EOF
[defaults]
inventory = $work/inventory/hosts.ini
host_key_checking = False
forks = 5
remote_tmp = $work/remote-tmp
local_tmp = $work/local-tmp
retry_files_enabled = False
nocolor = True

[ssh_connection]
pipelining = True
control_path_dir = $work/cp
ssh_args = -o ControlMaster=auto -o ControlPersist=30s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR -o ConnectTimeout=10
EOF
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/ansible-home
export ANSIBLE_COLLECTIONS_PATH=$repo/contrib/ansible ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=False
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 PYTHONDONTWRITEBYTECODE=1

for i in 1 2 3; do
    up=
    for _ in $(seq 100); do
        if ssh -q -i "$work/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o ConnectTimeout=2 "root@10.233.$i.2" true 2>/dev/null; then
            up=1
            break
        fi
        sleep 0.1
    done
    [ -n "$up" ] || fail "h$i: no ssh to 10.233.$i.2"
done
echo "fleet: 3 hosts up (cpfleet1..3, sshd on 10.233.1-3.2:22)"

module=$repo/contrib/ansible/tests/playbooks/module.yml
rolling=carbonpatch.carbon_patch.rolling_patch
product() { echo "$work/$1/product"; }
events() { cat "$work/events" 2>/dev/null || true; }

# ----------------------------------------------------------------------- 1. check mode
echo "1. check mode on the unpatched fleet"
for h in "${hosts[@]}"; do snapshot "$(product "$h")" >"$work/$h.before"; done
playbook check-module "$module" --check --diff -e fleet_label=check || fail "check mode run failed (see check-module.log)"
for h in "${hosts[@]}"; do
    r=$work/$h/results/check.json
    expect "$h: check mode says it would change" "$(json "$r" 'd["changed"]')" true
    expect "$h: check mode ran plan (a dry run)" "$(json "$r" 'd["report"]["dry_run"]')" true
    expect "$h: diff shows the applied list to come" \
        "$(json "$r" '"servicepack001" in d["diff"][0]["after"] and d["diff"][0]["before"] == ""')" true
done
playbook check-rolling "$rolling" --check --diff -e carbon_patch_hosts=fleet || fail "check mode of the rolling playbook failed (see check-rolling.log)"
for h in "${hosts[@]}"; do
    expect "$h: the rolling playbook in check mode reports changes" "$([ "$(recap "$log/check-rolling.log" "$h" changed)" -gt 0 ] && echo yes)" yes
    snapshot "$(product "$h")" >"$work/$h.after"
    cmp -s "$work/$h.before" "$work/$h.after" || fail "$h: check mode changed the product tree: $(diff "$work/$h.before" "$work/$h.after" | head -n 5)"
    pass "$h: check mode left the product tree as it was"
done
grep -q '^+servicepack001$' "$log/check-rolling.log" || fail "check mode with --diff printed no applied list"
pass "--diff printed the applied list to come"
expect "no server was stopped in check mode" "$(events)" ""

# ---------------------------------------------------------------- 2. the first real run
echo "2. the rolling playbook patches the fleet (role installs the binary per host, serial 1)"
cat >"$work/install.yml" <<EOF
carbon_patch_install: binary
carbon_patch_binary_file: $bin
carbon_patch_install_dir: "{{ host_dir }}/bin"
EOF
playbook first "$rolling" -e carbon_patch_hosts=fleet -e "@$work/install.yml" || fail "the first run failed (see first.log)"
for h in "${hosts[@]}"; do
    expect "$h: first run changed it" "$([ "$(recap "$log/first.log" "$h" changed)" -gt 0 ] && echo yes)" yes
    expect "$h: first run failed nothing" "$(recap "$log/first.log" "$h" failed)" 0
    [ -x "$work/$h/bin/carbon-patch" ] || fail "$h: the role did not install carbon-patch in $work/$h/bin"
    "$bin" verify -q "$(product "$h")" || fail "$h: carbon-patch verify fails after the first run"
    pass "$h: carbon-patch verify passes"
    expect "$h: applied list" "$(tr '\n' ' ' <"$(product "$h")/repository/components/patches/.metadata/prePatchedDir.txt")" \
        "servicepack001 patch0000 patch0003 patch0004 patch0005 "
done
expect "each server stopped and started around its change, one host after the other" \
    "$(events | tr '\n' ',')" "h1 stop,h1 start,h2 stop,h2 start,h3 stop,h3 start,"

# ----------------------------------------------------------------- 3. nothing to do
echo "3. a second run changes nothing"
playbook second "$rolling" -e carbon_patch_hosts=fleet -e "@$work/install.yml" || fail "the second run failed (see second.log)"
for h in "${hosts[@]}"; do
    expect "$h: second run changed=0" "$(recap "$log/second.log" "$h" changed)" 0
    expect "$h: second run failed=0" "$(recap "$log/second.log" "$h" failed)" 0
done
expect "no server stopped when nothing changes" "$(events | wc -l)" 6

# ------------------------------------------------------------------------ 4. archives
echo "4. a patch archive on h1"
snapshot "$(product h1)" >"$work/h1.before"
playbook archive-check "$module" --check --diff -l h1 -e fleet_label=archive-check -e "{\"fleet_archives\": [\"$archive\"]}" ||
    fail "check mode with the archive failed (see archive-check.log)"
r=$work/h1/results/archive-check.json
expect "h1: check mode says the archive would be added" "$(json "$r" 'd["changed"]')" true
expect "h1: check mode ran carbon-patch check" "$(json "$r" 'd["report"]["command"] + " " + d["report"]["archives"][0]["state"]')" "check would_add"
snapshot "$(product h1)" >"$work/h1.after"
cmp -s "$work/h1.before" "$work/h1.after" || fail "h1: check mode with the archive changed the product tree"
pass "h1: check mode with the archive left the product tree as it was"

playbook archive "$module" --diff -l h1 -e fleet_label=archive -e "{\"fleet_archives\": [\"$archive\"]}" || fail "adding the archive failed (see archive.log)"
r=$work/h1/results/archive.json
expect "h1: the archive run changed it" "$(json "$r" 'd["changed"]')" true
expect "h1: the archive was added" "$(json "$r" 'd["report"]["command"] + " " + d["report"]["archives"][0]["state"]')" "add added"
expect "h1: its patch was applied" "$(json "$r" 'd["report"]["apply"]["counts"]["written"]')" 1
expect "h1: its manual step is reported" "$(json "$r" 'len(d["manual_steps"])')" 1
"$bin" verify -q "$(product h1)" || fail "h1: carbon-patch verify fails after adding the archive"
pass "h1: carbon-patch verify passes"

playbook archive-again "$module" -l h1 -e fleet_label=archive-again -e "{\"fleet_archives\": [\"$archive\"]}" || fail "adding the archive again failed (see archive-again.log)"
r=$work/h1/results/archive-again.json
expect "h1: the same archive again changes nothing" "$(json "$r" 'd["changed"]')" false
expect "h1: it is already added" "$(json "$r" 'd["report"]["archives"][0]["state"]')" already_added
expect "h1: recap changed=0" "$(recap "$log/archive-again.log" h1 changed)" 0

# ------------------------------------------------------------------- 5. a broken patch
echo "5. a corrupt jar on h2 stops the rolling run before h3"
mkdir "$(product h2)/repository/components/patches/patch0009"
echo "not a jar" >"$(product h2)/repository/components/patches/patch0009/x_1.0.jar"
# h3 has work to do (a new patch0007), so reaching it would change it.
cp -a "$(product h3)/repository/components/patches/patch0005" "$(product h3)/repository/components/patches/patch0007"
for h in h2 h3; do snapshot "$(product "$h")" >"$work/$h.before"; done
events_before=$(events)
rc=0
playbook broken "$rolling" -e carbon_patch_hosts=fleet -e "@$work/install.yml" || rc=$?
[ "$rc" -ne 0 ] || fail "the run with a corrupt jar on h2 succeeded"
pass "the run with a corrupt jar on h2 failed (ansible-playbook rc $rc)"
expect "h1 (first in line, nothing to do) ran fine" "$(recap "$log/broken.log" h1 failed)/$(recap "$log/broken.log" h1 changed)" 0/0
expect "h2 failed" "$(recap "$log/broken.log" h2 failed)" 1
expect "h3 never ran" "$(recap "$log/broken.log" h3 ok)" ""
grep -q 'not a valid jar (zip) file' "$log/broken.log" || fail "the failure does not carry carbon-patch's error (see broken.log)"
grep -q 'hint: replace the file with an intact copy of the jar' "$log/broken.log" || fail "the failure does not carry carbon-patch's hint"
pass "h2's failure carries carbon-patch's message and hint"
expect "h2's server was not stopped (the read-only plan failed first)" "$(events)" "$events_before"
for h in h2 h3; do
    snapshot "$(product "$h")" >"$work/$h.after"
    cmp -s "$work/$h.before" "$work/$h.after" || fail "$h: the failed run changed its product tree: $(diff "$work/$h.before" "$work/$h.after" | head -n 5)"
    pass "$h: product tree untouched"
done
rm -r "$(product h2)/repository/components/patches/patch0009"

# -------------------------------------------------------------------------- 6. rollback
echo "6. state rolled_back on the fleet"
playbook rollback "$module" --diff -e fleet_state=rolled_back -e fleet_label=rollback || fail "the rollback failed (see rollback.log)"
for h in "${hosts[@]}"; do
    r=$work/$h/results/rollback.json
    p=$(product "$h")/repository/components
    expect "$h: rollback changed it" "$(json "$r" 'd["changed"]')" true
    expect "$h: rollback exit code" "$(json "$r" 'd["rc"]')" 0
    diff -r "$p/plugins" "$p/patches/patch0000" >/dev/null || fail "$h: plugins differ from patch0000 after the rollback"
    pass "$h: plugins equal patch0000"
    expect "$h: applied list after rollback" "$(cat "$p/patches/.metadata/prePatchedDir.txt")" patch0000
done
playbook rollback-again "$module" -e fleet_state=rolled_back -e fleet_label=rollback-again || fail "the second rollback failed (see rollback-again.log)"
for h in "${hosts[@]}"; do
    expect "$h: a second rollback changes nothing" "$(json "$work/$h/results/rollback-again.json" 'd["changed"]')" false
    expect "$h: recap changed=0" "$(recap "$log/rollback-again.log" "$h" changed)" 0
done

echo "fleet: $passed checks passed on 3 hosts"
