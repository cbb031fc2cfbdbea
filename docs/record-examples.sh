#!/usr/bin/env bash
# Regenerates docs/EXAMPLES.md: runs carbon-patch in a real terminal (tmux, 200 columns,
# send-keys to type, capture-pane to read the screen) on a throw-away copy of
# fixtures/sample-product, and writes each screen as a transcript. Needs tmux and a release
# build; the repository's sample product is never modified.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release"
bin="$(cd "$bin" && pwd)"
work=$(mktemp -d)
session="carbon-patch-examples-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -a fixtures/sample-product "$work/wso2am-2.6.0"
find "$work" -name .gitkeep -delete
tmux new-session -d -s "$session" -x 200 -y 80 "env -i HOME=$work TERM=xterm-256color PATH=$bin:/usr/bin:/bin bash --norc --noprofile"
tmux send-keys -t "$session" "PS1='\$ '; cd $work" Enter
sleep 0.5
out=docs/EXAMPLES.md
{
    echo "# carbon-patch in a terminal"
    echo
    echo "Transcripts of each subcommand on a copy of \`fixtures/sample-product\` (named"
    echo "\`wso2am-2.6.0\` here), captured from a real terminal with tmux by"
    echo "\`docs/record-examples.sh\`, which regenerates this file. Colours are dropped."
    echo
} >"$out"
shot() { # title, command
    tmux send-keys -t "$session" "clear; tmux clear-history" Enter
    sleep 0.3
    tmux send-keys -t "$session" "$2" Enter
    sleep "${3:-1.5}"
    {
        echo "## $1"
        echo
        echo '```console'
        tmux capture-pane -t "$session" -p -J -S - | sed -e '/^\$ $/d' -e 's/[[:space:]]*$//' | cat -s | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
        echo '```'
        echo
    } >>"$out"
}
shot "status before anything is applied" "carbon-patch status wso2am-2.6.0"
shot "plan: what apply would do (the same as apply --dry-run)" "carbon-patch plan wso2am-2.6.0"
shot "apply" "carbon-patch apply wso2am-2.6.0"
shot "verify" "carbon-patch verify wso2am-2.6.0"
shot "status after apply, PRODUCT_HOME from \$CARBON_HOME" "CARBON_HOME=\$PWD/wso2am-2.6.0 carbon-patch status"
# A patch shipping another version of a bundle that patch0004 and the service pack ship.
patch6="$work/wso2am-2.6.0/repository/components/patches/patch0006"
mkdir "$patch6"
python3 - "$patch6/org.wso2.carbon.core_4.4.10.jar" <<'PYTHON'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as jar:
    jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nBundle-ManifestVersion: 2\r\n"
                 "Bundle-SymbolicName: org.wso2.carbon.core\r\nBundle-Version: 4.4.10\r\n\r\n")
    jar.writestr("org/wso2/carbon/core/Fix.class", b"\xca\xfe\xba\xbe")
PYTHON
shot "a conflicting patch arrives: status" "ls wso2am-2.6.0/repository/components/patches/patch0006; carbon-patch status wso2am-2.6.0; echo exit \$?"
shot "a conflicting patch arrives: plan" "carbon-patch plan wso2am-2.6.0"
shot "verify --format junit with the patch pending" "carbon-patch verify --format junit wso2am-2.6.0 | head -n 12"
shot "JSON (every subcommand has it; see docs/json.md)" "carbon-patch status --format json wso2am-2.6.0 | head -n 24"
shot "rollback --dry-run" "rm -r wso2am-2.6.0/repository/components/patches/patch0006; carbon-patch rollback --dry-run wso2am-2.6.0"
shot "rollback" "carbon-patch rollback wso2am-2.6.0"
shot "status after rollback" "carbon-patch status wso2am-2.6.0"
shot "an error always ends with a hint" "carbon-patch status /tmp; echo exit \$?"
shot "completions and man page" "carbon-patch completions bash | head -n 3; carbon-patch man status | head -n 4"
echo "wrote $out"
