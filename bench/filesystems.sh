#!/usr/bin/env bash
# The benchmark of issue 16: bench/run.sh on each filesystem operators run — XFS with
# reflink, btrfs, ext4, tmpfs, and overlayfs (the product in the lower layer, as in an image
# build) — each created and loop-mounted here (root only; xfsprogs and btrfs-progs are
# installed when missing), plus the disk space the backup of a first apply takes on each.
# Prints run.sh's tables one after the other. Anything that cannot be set up is SKIPPED
# with the reason. Nothing is asserted: run by hand.
#
#   bench/filesystems.sh [--runs 3] [--plugins 800] [--total-mb 400] [--only xfs,btrfs,...]
set -euo pipefail

runs=3
plugins=800
total_mb=400
only="xfs,btrfs,ext4,tmpfs,overlay"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=${2:?}; shift 2 ;;
        --plugins) plugins=${2:?}; shift 2 ;;
        --total-mb) total_mb=${2:?}; shift 2 ;;
        --only) only=${2:?}; shift 2 ;;
        *) echo "bench/filesystems.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
repo=$PWD
log() { echo "bench/filesystems: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIPPED: loop-mounting filesystems needs root"
    exit 0
fi
missing=()
command -v mkfs.xfs >/dev/null || missing+=(xfsprogs)
command -v mkfs.btrfs >/dev/null || missing+=(btrfs-progs)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/carbon-fs-bench.XXXXXX)
mounts=()
cleanup() {
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[$i]}" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# One product, generated once (on the disk /tmp is on) and copied onto each filesystem.
cargo build --release --locked --quiet --bin carbon-patch
cargo build --release --locked --quiet -p carbon-fixtures --bin gen-bench
bin=${CARGO_TARGET_DIR:-$repo/target}/release/carbon-patch
"${CARGO_TARGET_DIR:-$repo/target}/release/gen-bench" --plugins "$plugins" --total-mb "$total_mb" \
    "$work/product" >/dev/null
image_mb=$((total_mb * 6 + 1024))

# mount_fs KIND DIR: makes and mounts a filesystem of KIND at DIR; fails with a reason.
mount_fs() {
    local kind=$1 dir=$2 image=$work/$1.img
    mkdir -p "$dir"
    case "$kind" in
        tmpfs) mount -t tmpfs -o size=${image_mb}m tmpfs "$dir" ;;
        xfs | btrfs | ext4)
            truncate -s ${image_mb}M "$image"
            case "$kind" in
                xfs) mkfs.xfs -q -m reflink=1 "$image" ;;
                btrfs) mkfs.btrfs -q "$image" ;;
                ext4) mkfs.ext4 -q -F "$image" ;;
            esac
            mount -o loop "$image" "$dir"
            ;;
    esac
    mounts+=("$dir")
}

used_kb() { df --output=used -k "$1" | tail -n 1 | tr -d ' '; }

for kind in ${only//,/ }; do
    mnt=$work/mnt-$kind
    target=$mnt/bench
    if [ "$kind" = overlay ]; then
        # The product in the lower layer; the benchmark's copies land in the upper.
        if ! mount_fs ext4 "$work/mnt-overlay-base" 2>"$work/err"; then
            echo "SKIPPED: overlay: $(cat "$work/err")"; continue
        fi
        base=$work/mnt-overlay-base
        mkdir -p "$base/lower" "$base/upper" "$base/work" "$mnt"
        cp -a "$work/product" "$base/lower/bench"
        if ! mount -t overlay overlay \
            -o "lowerdir=$base/lower,upperdir=$base/upper,workdir=$base/work" "$mnt" 2>"$work/err"; then
            echo "SKIPPED: overlay: $(cat "$work/err")"; continue
        fi
        mounts+=("$mnt")
    else
        if ! mount_fs "$kind" "$mnt" 2>"$work/err"; then
            echo "SKIPPED: $kind: $(cat "$work/err")"; continue
        fi
        cp -a "$work/product" "$target"
    fi
    sync
    # The backup's disk space: one first apply on a copy, measured by the filesystem.
    cp -a "$target" "$mnt/space"
    sync
    before=$(used_kb "$mnt")
    "$bin" apply -q "$mnt/space" >/dev/null
    sync
    after=$(used_kb "$mnt")
    rm -rf "$mnt/space"
    echo
    echo "## $kind"
    echo
    echo "- first apply's extra disk space (backup, patched bundles, metadata): $(((after - before) / 1024)) MB"
    TMPDIR=$mnt "$repo/bench/run.sh" --keep "$target" --runs "$runs"
done
