#!/usr/bin/env bash
# The carbon-patch benchmark of issue 4. On one generated product (fixtures/gen, gen-bench) it
# times, with a warm page cache: first apply, no-change apply, apply after adding one patch,
# verify with and without the digest cache, rollback; and, on the same tree, the baselines
# the targets are stated against: `cp -a plugins`, `md5sum` of the service pack and patch
# files, md5sum of the files verify reads, and copying back the files patches replaced.
# Prints a Markdown table (median wall-clock of --runs runs, peak RSS from GNU time) ready for
# docs/BENCHMARKS.md. Timings are never asserted anywhere: this is run by hand.
#
#   bench/run.sh [--plugins 800] [--total-mb 400] [--runs 3] [--keep DIR]
#
# --plugins/--total-mb go to gen-bench (service pack size scales with --plugins);
# --keep DIR reuses the product in DIR, or generates it there and leaves it. Everything else
# lives under ${TMPDIR:-/tmp} and is removed at the end.
set -euo pipefail

plugins=800
total_mb=400
runs=3
keep=""

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --plugins) plugins=${2:?--plugins needs a number}; shift 2 ;;
        --total-mb) total_mb=${2:?--total-mb needs a number}; shift 2 ;;
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --keep) keep=${2:?--keep needs a directory}; shift 2 ;;
        -h | --help) usage ;;
        *) echo "bench/run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

cd "$(dirname "$0")/.."
repo=$PWD
target_dir=${CARGO_TARGET_DIR:-$repo/target}
bin=$target_dir/release/carbon-patch
gen=$target_dir/release/gen-bench

log() { echo "bench: $*" >&2; }

# GNU time gives the peak RSS (%M) of the child; bash's `time` keyword cannot.
ensure_gnu_time() {
    if /usr/bin/time -f '%e %M' true >/dev/null 2>&1; then
        return
    fi
    log "installing GNU time"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq time >/dev/null
}

build() {
    log "building release binaries"
    cargo build --release --locked --quiet --bin carbon-patch
    cargo build --release --locked --quiet -p carbon-fixtures --bin gen-bench
}

work=$(mktemp -d "${TMPDIR:-/tmp}/carbon-bench.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/results"

# Reads every file under the given paths once, so all figures are warm-cache and comparable.
warm() {
    find "$@" -type f -print0 | xargs -0 cat >/dev/null
}

# Total size in bytes of the NUL-separated file list on stdin.
bytes_of_list() {
    xargs -0 stat -c %s | awk '{ s += $1 } END { print s + 0 }'
}

# measure LABEL CMD...: runs CMD once and appends "<microseconds> <peak RSS KB>" to
# results/LABEL. Wall time comes from the nanosecond clock, not GNU time's %e, whose 10 ms
# resolution is too coarse for the 30 ms targets. A failing command stops the benchmark: a
# figure for a run that did not do its work would be meaningless.
measure() {
    local label=$1 start end
    shift
    start=$(date +%s%N)
    if ! /usr/bin/time -f '%e %M' -o "$work/time.out" "$@" >"$work/cmd.out" 2>&1; then
        log "failed: $*"
        cat "$work/cmd.out" >&2
        exit 1
    fi
    end=$(date +%s%N)
    echo "$(((end - start) / 1000)) $(tail -n 1 "$work/time.out" | awk '{ print $2 }')" \
        >>"$work/results/$label"
}

# Median of the first column of results/LABEL, in seconds (3 decimals); "n/a" if absent.
median_s() {
    local file=$work/results/$1
    [ -s "$file" ] || { echo "n/a"; return; }
    sort -n "$file" | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] / 1e6 }'
}

# Largest peak RSS of results/LABEL, in MB.
peak_mb() {
    local file=$work/results/$1
    [ -s "$file" ] || { echo "n/a"; return; }
    awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$file"
}

# paired_ratio NUM DEN [DEN2]: for each round, NUM / (DEN + DEN2) from the results files of
# those labels (line i of each is round i), then "<median> (<min>–<max>)" of those ratios.
# Baseline and subject of a round ran on the same tree moments apart, so the noise of this
# shared machine moves both; a ratio of medians taken over different rounds would not cancel it.
paired_ratio() {
    local num=$work/results/$1 den=$work/results/$2 den2=${3:+$work/results/$3}
    [ -s "$num" ] && [ -s "$den" ] || { echo "n/a"; return; }
    [ -z "$den2" ] || [ -s "$den2" ] || { echo "n/a"; return; }
    paste -d ' ' "$num" "$den" ${den2:+"$den2"} |
        awk '{ d = $3 + ($5 == "" ? 0 : $5); if (d > 0) print $1 / d }' |
        sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "n/a"; exit }
            printf "%.2f (%.2f–%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

ms() {
    case "$1" in n/a) echo "n/a" ;; *) awk -v s="$1" 'BEGIN { printf "%.0f ms", s * 1000 }' ;; esac
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }

# The product to benchmark: reused from --keep, else generated (into --keep or the temp dir).
prepare_product() {
    if [ -n "$keep" ] && [ -d "$keep/repository/components/plugins" ]; then
        product=$(cd "$keep" && pwd)
        log "reusing the product in $product (its own --plugins/--total-mb apply)"
        return
    fi
    product=${keep:-$work/product}
    local avail_mb need_mb
    avail_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
    need_mb=$((total_mb * 4))
    if [ "$avail_mb" -lt "$need_mb" ]; then
        log "warning: ${avail_mb} MB free under $work, the run needs about ${need_mb} MB"
    fi
    log "generating $plugins plugins / $total_mb MB into $product"
    "$gen" "$product" --plugins "$plugins" --total-mb "$total_mb" >&2
    product=$(cd "$product" && pwd)
}

# A fresh copy of the pristine product at $home, flushed and in the page cache: copying and
# writeback happen outside the timed region.
fresh_copy() {
    rm -rf "$home"
    cp -a "$product" "$home"
    sync
    warm "$home"
}

# Bundle names the apply order provides (prePatchedJARs.txt is `<name>:<md5>` a line).
provided_names() {
    sed 's/:[0-9a-f]*$//' "$patches/.metadata/prePatchedJARs.txt"
}

# The files verify reads, NUL-separated, on the applied tree: plugins/<name> for every
# provided bundle; every file of every applied entry (prePatchedDir.txt: the service pack's
# lib/, the patches not inside it); and the backup copies of provided bundles whose size
# equals the plugins file's (only those are compared by content; see plan::digests_needed).
verify_files() {
    local name entry size
    provided_names | while IFS= read -r name; do
        printf '%s\0' "$plugins_dir/$name"
        [ -f "$patches/patch0000/$name" ] || continue
        size=$(stat -c %s "$plugins_dir/$name")
        if [ "$(stat -c %s "$patches/patch0000/$name")" = "$size" ]; then
            printf '%s\0' "$patches/patch0000/$name"
        fi
    done
    while IFS= read -r entry; do
        case "$entry" in
            patch0000 | "") ;;
            servicepack*) find "$servicepacks/$entry/lib" -type f -print0 ;;
            *) find "$patches/$entry" -type f -print0 ;;
        esac
    done <"$patches/.metadata/prePatchedDir.txt"
}

# The files patches replaced: provided bundles that the backup holds, NUL-separated.
replaced_files() {
    local name
    provided_names | while IFS= read -r name; do
        [ -f "$patches/patch0000/$name" ] && printf '%s\0' "$patches/patch0000/$name"
    done
    return 0
}

# One round: the baselines on the fresh copy, then every carbon-patch measurement in the order
# a user meets them, on that same copy.
round() {
    fresh_copy

    # Single process, single core: the reference rate for hashing.
    find "$servicepacks" "$patches" -type f -print0 >"$work/sp-patch-files"
    bytes_of_list <"$work/sp-patch-files" >"$work/sp-patch-bytes"
    measure md5_sp_patches sh -c 'xargs -0 md5sum <"$1" >/dev/null' sh "$work/sp-patch-files"

    # carbon-patch flushes what it writes; plain cp leaves that to writeback. For reference
    # only: the targets are stated against plain cp.
    measure cp_plugins_sync sh -c 'cp -a "$1" "$2" && sync' sh "$plugins_dir" "$work/cp-plugins"
    rm -rf "$work/cp-plugins"
    sync

    # The baseline copy and the first apply each start right after the same removal and
    # sync: file creation on ext4 slows down for a while after many files were removed.
    # coreutils 9's `cp -a` clones where the filesystem shares extents (--reflink=auto); the
    # copy that writes every byte is measured at the end of the round, so the order of
    # everything else stays as it was (ext4 creates files slower for a while after a removal).
    measure cp_plugins cp -a --reflink=auto "$plugins_dir" "$work/cp-plugins"
    rm -rf "$work/cp-plugins"
    sync
    measure first_apply "$bin" apply "$home"
    sync
    measure nochange_apply "$bin" apply "$home"

    "$gen" --add-patch "$home" >"$work/added-patch"
    sync
    warm "$patches"
    measure add_patch_apply "$bin" apply "$home"
    sync

    measure verify "$bin" verify "$home"
    verify_files >"$work/verify-files"
    bytes_of_list <"$work/verify-files" >"$work/verify-bytes"
    # carbon-patch writes past the page cache: warm what both verify and md5sum read.
    xargs -0 cat <"$work/verify-files" >/dev/null
    if [ "$has_no_cache" = yes ]; then
        measure verify_no_cache "$bin" verify --no-cache "$home"
    fi
    measure md5_verify_files sh -c 'xargs -0 md5sum <"$1" >/dev/null' sh "$work/verify-files"

    replaced_files >"$work/replaced-files"
    bytes_of_list <"$work/replaced-files" >"$work/replaced-bytes"
    # The backup apply just wrote may not be cached yet; baseline and rollback both read it.
    xargs -0 cat <"$work/replaced-files" >/dev/null
    rm -rf "$work/cp-back"
    mkdir "$work/cp-back"
    sync
    measure cp_back sh -c 'xargs -0 cp --reflink=auto -t "$2" <"$1"' sh "$work/replaced-files" "$work/cp-back"
    rm -rf "$work/cp-back"
    sync

    measure rollback "$bin" rollback "$home"

    # The copies that write every byte (plugins now hold the backup's content again).
    sync
    measure cp_plugins_never cp -a --reflink=never "$plugins_dir" "$work/cp-plugins"
    rm -rf "$work/cp-plugins"
    mkdir "$work/cp-back"
    sync
    measure cp_back_never sh -c 'xargs -0 cp --reflink=never -t "$2" <"$1"' sh "$work/replaced-files" "$work/cp-back"
    rm -rf "$work/cp-back"
    sync
}

# count_and_size DIR: "<n> files, <size>" of the regular files under DIR.
count_and_size() {
    find "$1" -type f -printf '%s\n' |
        awk '{ n++; s += $1 } END { printf "%d files, %.1f MB", n, s / 1048576 }'
}

# What the pristine product holds, read from disk so a reused (--keep) product is described too.
describe_product() {
    local c=$product/repository/components sp
    sp=$(find "$c/servicepacks" -mindepth 1 -maxdepth 1 -name 'servicepack*' | sort | tail -n 1)
    echo "- product: plugins $(count_and_size "$c/plugins");" \
        "$(basename "$sp") $(count_and_size "$sp/lib")," \
        "covering $(grep -c . "$sp/servicepack_patches.txt") patches;" \
        "$(find "$c/patches" -mindepth 1 -maxdepth 1 -name 'patch*' | wc -l) patches," \
        "$(count_and_size "$c/patches")"
}

print_machine() {
    local cpu fs
    cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
    fs=$(df -T "$work" | awk 'NR == 2 { print $2 " (" $1 ")" }')
    echo "- machine: $(nproc) cores (nproc), ${cpu:-unknown CPU}," \
        "$(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM," \
        "Linux $(uname -r)"
    echo "- temp dir: ${TMPDIR:-/tmp} on $fs"
    echo "- carbon-patch: $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown);" \
        "verify --no-cache: $has_no_cache"
}

print_table() {
    local first nochange addone verify nocache rollback cp md5 md5v cpback
    first=$(median_s first_apply)
    nochange=$(median_s nochange_apply)
    addone=$(median_s add_patch_apply)
    verify=$(median_s verify)
    nocache=$(median_s verify_no_cache)
    rollback=$(median_s rollback)
    cp=$(median_s cp_plugins)
    md5=$(median_s md5_sp_patches)
    md5v=$(median_s md5_verify_files)
    cpback=$(median_s cp_back)
    local sp_bytes verify_bytes plugin_bytes replaced_bytes replaced_count
    plugin_bytes=$(find "$product/repository/components/plugins" -type f -print0 | bytes_of_list)
    # Sizes were taken during the last round: rollback moves the patch directories away.
    sp_bytes=$(cat "$work/sp-patch-bytes")
    verify_bytes=$(cat "$work/verify-bytes")
    replaced_bytes=$(cat "$work/replaced-bytes")
    replaced_count=$(tr -cd '\0' <"$work/replaced-files" | wc -c)
    local nocache_ratio="n/a"
    [ "$nocache" = n/a ] || nocache_ratio="$(paired_ratio md5_verify_files verify_no_cache) × md5sum rate"

    echo
    echo "## carbon-patch benchmark"
    echo
    print_machine
    describe_product
    echo "- one-patch apply: $(sed "s/^added //" "$work/added-patch") (gen-bench --add-patch)"
    echo "- runs: $runs, median wall-clock; ratios are the median (and range) of each round's"
    echo "  ratio to the baseline measured in that round; peak RSS is the largest of the runs;"
    echo "  page cache warm"
    echo
    echo "| work | seconds | peak RSS | figure | target |"
    echo "| --- | ---: | ---: | --- | --- |"
    echo "| first apply | $first | $(peak_mb first_apply) MB | $(paired_ratio first_apply cp_plugins md5_sp_patches) × (cp -a plugins + md5sum) | ≤ 1.2 × |"
    echo "| no-change apply | $nochange | $(peak_mb nochange_apply) MB | $(ms "$nochange") | ≤ 30 ms |"
    echo "| apply after adding one patch | $addone | $(peak_mb add_patch_apply) MB | $(ms "$addone") | ≤ 100 ms |"
    echo "| verify, warm digest cache | $verify | $(peak_mb verify) MB | $(ms "$verify") | ≤ 30 ms |"
    echo "| verify --no-cache | $nocache | $(peak_mb verify_no_cache) MB | $nocache_ratio | ≥ 1.7 × |"
    echo "| rollback | $rollback | $(peak_mb rollback) MB | $(paired_ratio rollback cp_back) × copying back | ≤ 1.2 × |"
    echo "| first apply, against copies that write every byte | | | $(paired_ratio first_apply cp_plugins_never md5_sp_patches) × (cp -a --reflink=never + md5sum) | |"
    echo "| rollback, against copies that write every byte | | | $(paired_ratio rollback cp_back_never) × cp --reflink=never back | |"
    echo "| baseline: cp -a plugins (--reflink=auto) | $cp | | $(mb "$plugin_bytes") | |"
    echo "| baseline: cp -a --reflink=never plugins | $(median_s cp_plugins_never) | | $(mb "$plugin_bytes") | |"
    echo "| reference: cp -a plugins; sync | $(median_s cp_plugins_sync) | | flushed to disk, as carbon-patch does | |"
    echo "| baseline: md5sum service pack + patches | $md5 | | $(mb "$sp_bytes") | |"
    echo "| baseline: md5sum of verify's files | $md5v | | $(mb "$verify_bytes") | |"
    echo "| baseline: cp back replaced files (--reflink=auto) | $cpback | | $replaced_count files, $(mb "$replaced_bytes") | |"
    echo "| baseline: cp --reflink=never back | $(median_s cp_back_never) | | | |"
    echo
    echo "Peak RSS of carbon-patch over all runs: $(cat "$work"/results/{first,nochange,add_patch}_apply \
        "$work"/results/verify* "$work"/results/rollback | awk '$2 > m { m = $2 } END { printf "%.1f MB", m / 1024 }')" \
        "(target ≤ 32 MB)."
    echo "verify's files: plugins/<name> for every name in prePatchedJARs.txt, every file of the"
    echo "applied entries (prePatchedDir.txt), and the backup copies of the same size as their"
    echo "plugins file; md5sum is one process on one core."
}

main() {
    ensure_gnu_time
    build
    if "$bin" verify --help | grep -q -- --no-cache; then has_no_cache=yes; else has_no_cache=no; fi
    prepare_product
    home=$work/home
    plugins_dir=$home/repository/components/plugins
    patches=$home/repository/components/patches
    servicepacks=$home/repository/components/servicepacks
    warm "$product"
    local i
    for i in $(seq 1 "$runs"); do
        log "round $i of $runs"
        round
    done
    print_table
}

main
