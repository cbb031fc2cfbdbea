#!/usr/bin/env bash
# The benchmark of `carbon-patch pack` (issue 17): its time against the manual process it
# replaces, `unzip -q` of the distribution plus `zip -qr` of the patched tree (the same
# content the pack holds), on one generated product (fixtures/gen, gen-bench: 800 plugins,
# ~400 MB, a service pack and 40 patches) zipped as a distribution, with one patch archive
# (gen-patch-archive, patch0100). The target: pack <= 1.5 x (unzip + zip).
#
# Prints each time (wall clock, one run each, page cache warm), the ratio, pack's peak RSS,
# and whether a second pack of the same inputs gave the same bytes. Timings are never
# asserted anywhere: this is run by hand. zip, unzip and GNU time are installed from
# Debian when missing.
#
#   bench/pack.sh [--plugins 800] [--total-mb 400] [--keep DIR]
#
# --keep DIR works in DIR (and leaves it); else under ${TMPDIR:-/tmp}, removed at the end.
set -euo pipefail

plugins=800
total_mb=400
keep=""

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --plugins) plugins=${2:?--plugins needs a number}; shift 2 ;;
        --total-mb) total_mb=${2:?--total-mb needs a number}; shift 2 ;;
        --keep) keep=${2:?--keep needs a directory}; shift 2 ;;
        -h | --help) usage ;;
        *) echo "bench/pack.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
bin=$target_dir/release/carbon-patch

log() { echo "bench: $*" >&2; }

install_missing() {
    local missing=()
    command -v zip >/dev/null || missing+=(zip)
    command -v unzip >/dev/null || missing+=(unzip)
    /usr/bin/time -f '%e' true >/dev/null 2>&1 || missing+=(time)
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]} from Debian"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Seconds of wall clock `"$@"` took (its output discarded).
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

install_missing
log "building release binaries"
cargo build --release --locked --quiet --bin carbon-patch
cargo build --release --locked --quiet -p carbon-fixtures --bin gen-bench --bin gen-patch-archive

if [ -n "$keep" ]; then
    work=$keep
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/carbon-patch-pack-bench.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
top=wso2am-2.6.0

if [ ! -f "$work/$top.zip" ]; then
    log "generating the product ($plugins plugins, ~$total_mb MB) and zipping it"
    rm -rf "$work/product"
    mkdir -p "$work/product"
    "$target_dir/release/gen-bench" "$work/product/$top" --plugins "$plugins" --total-mb "$total_mb" >/dev/null
    (cd "$work/product" && zip -qrX "../$top.zip" "$top")
    rm -rf "$work/product"
fi
"$target_dir/release/gen-patch-archive" "$work" 100 >/dev/null
archive=$work/WSO2-CARBON-PATCH-4.4.9-0100.zip
export SOURCE_DATE_EPOCH=1700000000

# Warm the page cache with the inputs, as the runs below find them.
cat "$work/$top.zip" "$archive" >/dev/null

log "baseline: unzip -q, then (untimed) add, then zip -qr of the patched tree"
rm -rf "$work/manual" "$work/manual.zip"
mkdir "$work/manual"
t_unzip=$(seconds unzip -q "$work/$top.zip" -d "$work/manual")
"$bin" add "$archive" "$work/manual/$top" >/dev/null 2>&1
t_zip=$(cd "$work/manual" && seconds zip -qr "$work/manual.zip" "$top")
manual_bytes=$(stat -c %s "$work/manual.zip")
rm -rf "$work/manual" "$work/manual.zip"

log "pack, twice"
rm -f "$work/pack1.zip" "$work/pack2.zip"
/usr/bin/time -o "$work/time.txt" -f '%e %M' \
    "$bin" pack "$work/$top.zip" "$archive" -o "$work/pack1.zip" >/dev/null 2>&1
read -r t_pack rss_kb <"$work/time.txt"
"$bin" pack "$work/$top.zip" "$archive" -o "$work/pack2.zip" >/dev/null 2>&1
if cmp -s "$work/pack1.zip" "$work/pack2.zip"; then same=yes; else same=NO; fi
pack_bytes=$(stat -c %s "$work/pack1.zip")
ratio=$(awk -v p="$t_pack" -v u="$t_unzip" -v z="$t_zip" 'BEGIN { printf "%.2f", p / (u + z) }')

cat <<EOF
product: $plugins plugins, $(stat -c %s "$work/$top.zip") bytes zipped; pack: $pack_bytes bytes (zip -qr of the same tree: $manual_bytes)
unzip -q (distribution)        ${t_unzip} s
zip -qr (patched tree)         ${t_zip} s
carbon-patch pack              ${t_pack} s   peak RSS $((rss_kb / 1024)) MB
ratio pack / (unzip + zip)     ${ratio}   (target <= 1.5)
second pack, same bytes        ${same}
machine: $(nproc) cores, $(uname -sr)
EOF
