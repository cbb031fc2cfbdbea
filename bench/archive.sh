#!/usr/bin/env bash
# Archiving and reporting many files (issue 12, "linear reporting"): a product whose one patch
# holds N small files (default 100,000) is applied, the patch is taken away, and the apply
# that archives all N files is timed with -vv, which prints how long each phase took. Run by
# hand; nothing is asserted.
#
#   bench/archive.sh [--files 100000]
set -euo pipefail

files=100000
while [ $# -gt 0 ]; do
    case "$1" in
        --files) files=${2:?--files needs a number}; shift 2 ;;
        *) echo "bench/archive.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
cargo build --release --locked --quiet --bin carbon-patch
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/carbon-patch
work=$(mktemp -d "${TMPDIR:-/tmp}/carbon-patch-archive.XXXXXX")
trap 'rm -rf "$work"' EXIT

home=$work/product
mkdir -p "$home/repository/components/plugins" "$home/repository/components/patches/patch0001"
echo original >"$home/repository/components/plugins/a.txt"
(cd "$home/repository/components/patches/patch0001" && seq -f 'f%06g.txt' 1 "$files" | xargs touch)

"$bin" apply -q "$home"
mv "$home/repository/components/patches/patch0001" "$work/patch0001-aside"
start=$(date +%s.%N)
"$bin" apply -vv "$home" >"$work/report.txt" 2>"$work/diagnostics.txt"
end=$(date +%s.%N)

echo "archived $files files: apply took $(echo "$end - $start" | bc) s; report: $(wc -l <"$work/report.txt") lines"
echo "phases (-vv):"
grep -E 'close' "$work/diagnostics.txt" | sed -E 's/\x1b\[[0-9;]*m//g' |
    sed -E 's/^ *([0-9.]+)s +DEBUG +([^ ]+).* time\.busy=([^ ]+).*/  at \1 s  \2  busy \3/'
