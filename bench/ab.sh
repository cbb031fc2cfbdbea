#!/usr/bin/env bash
# Two carbon-patch binaries against each other on one product, alternating which goes first
# each round: a fresh copy of DIR/pristine (copied, flushed and read once, outside the
# timing), a first apply, then a rollback (the backup read once first). Prints the median
# first apply and rollback of each binary, in microseconds. Nothing is asserted: run by hand,
# typically on a filesystem bench/filesystems.sh would mount (DIR/pristine made there with
# `gen-bench`).
#
#   bench/ab.sh DIR BIN_A BIN_B [ROUNDS]
set -euo pipefail

dir=${1:?usage: bench/ab.sh DIR BIN_A BIN_B [ROUNDS]}
a=${2:?}
b=${3:?}
rounds=${4:-9}
home=$dir/ab-home

now_us() { echo $(($(date +%s%N) / 1000)); }

# one BIN: prints "<first apply us> <rollback us>"
one() {
    rm -rf "$home"
    cp -a "$dir/pristine" "$home"
    sync
    find "$home" -type f -exec cat {} + >/dev/null
    local start first
    start=$(now_us)
    "$1" apply "$home" >/dev/null
    first=$(($(now_us) - start))
    sync
    cat "$home"/repository/components/patches/patch0000/* >/dev/null
    start=$(now_us)
    "$1" rollback "$home" >/dev/null
    echo "$first $(($(now_us) - start))"
}

: >"$dir/ab-a"
: >"$dir/ab-b"
for ((i = 1; i <= rounds; i++)); do
    if ((i % 2)); then
        one "$b" >>"$dir/ab-b"
        one "$a" >>"$dir/ab-a"
    else
        one "$a" >>"$dir/ab-a"
        one "$b" >>"$dir/ab-b"
    fi
done
rm -rf "$home"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for side in a b; do
    bin=$a
    [ "$side" = b ] && bin=$b
    echo "$bin: first apply $(cut -d' ' -f1 "$dir/ab-$side" | median) us, rollback $(cut -d' ' -f2 "$dir/ab-$side" | median) us ($rounds rounds)"
done
rm -f "$dir/ab-a" "$dir/ab-b"
