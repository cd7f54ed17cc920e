#!/usr/bin/env bash
# Peer conformance of the emulator binary:
#   a. the official Python SDK (geopera on PyPI, unmodified) runs its documented flows against it;
#   b. the official CLI (geopera-cli on PyPI, unmodified) signs in with the demo key and with a
#      device login, and runs whoami and catalog search; then it and our `geopera` share one
#      credentials file, each running whoami on the other's login;
#   c. schemathesis runs the contract against it under its default checks.
# Creates its own venvs under target/ (reused when the pins match); the CLI gets one of its own
# so its dependencies never move the SDK's pins. Skips, exiting 0, only when Python cannot make
# a venv or pip cannot reach a package index, and never under CI=true, where a skip would let
# the run pass unchecked; any other problem fails.
#
# Usage: scripts/conformance.sh [venvs]
#   venvs   only prepare the venvs and stop: CI starts this early, beside the compiling, as
#           pip spends most of its time waiting on the network.
#
# Knobs (environment): CONFORMANCE_EXAMPLES (examples per operation, default 30),
# CONFORMANCE_SEED (schemathesis seed, default fixed), PYTHON (default python3),
# CONFORMANCE_PREBUILT=1 (the emulator and CLI are built already: CI's tests built them, and
# CI verifies the packages beside this run, where a build here would take turns with it).
set -euo pipefail
cd "$(dirname "$0")/.."

GEOPERA_SDK=geopera==2.1.0
SCHEMATHESIS=schemathesis==4.32.5
GEOPERA_CLI=geopera-cli==0.2.0
spec=../shared/spec/geopera-openapi.json
here=scripts/conformance
work=target/conformance
venv=target/conformance-venv
cli_venv=target/conformance-cli-venv
examples=${CONFORMANCE_EXAMPLES:-30}
seed=${CONFORMANCE_SEED:-20240601}
python=${PYTHON:-python3}

say() { printf 'conformance: %s\n' "$*"; }
# Stops the run as skipped: a pass outside CI, a failure in it.
skip() {
  if [ "${CI:-}" = true ]; then
    say "FAIL: $* (CI runs the conformance, never skips it)"
    exit 1
  fi
  say "skipped: $*"
  exit 0
}
started=$SECONDS
mkdir -p "$work"

if [ ! -f "$spec" ]; then
  say "FAIL: no contract at $spec (it must sit beside the repository)"
  exit 1
fi


# A venv holding exactly the pins, reused when it already does.
pins_ok() {
  "$1/bin/python" - "${@:2}" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
sys.exit(any(version(name) != want for name, want in (pin.split("==") for pin in sys.argv[1:])))
EOF
}
ensure_venv() {
  local dir=$1 log=$2
  shift 2
  if [ -x "$dir/bin/python" ] && pins_ok "$dir" "$@"; then return 0; fi
  if ! "$python" -m venv --clear "$dir" >"$work/$log-venv.log" 2>&1; then
    cat "$work/$log-venv.log"
    skip "'$python -m venv' could not create a venv with pip"
  fi
  if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --retries 2 --timeout 30 \
    "$@" >"$work/$log-pip.log" 2>&1; then
    tail -n 15 "$work/$log-pip.log"
    if grep -qE 'NewConnectionError|Failed to establish|Connection refused|Connection reset|name resolution|Name or service not known|Network is unreachable|timed out|ProxyError|SSLError|Could not fetch URL' \
      "$work/$log-pip.log"; then
      skip "pip could not reach the package index to install $*"
    fi
    say "FAIL: pip could not install $* (see above)"
    exit 1
  fi
}
py=$venv/bin/python
ensure_venv "$venv" sdk "$GEOPERA_SDK" "$SCHEMATHESIS"
# The CLI's own requirement on the SDK is open-ended; pinning it too keeps the run repeatable.
ensure_venv "$cli_venv" cli "$GEOPERA_CLI" "$GEOPERA_SDK"
say "venvs ready: $( { "$py" -m pip list --disable-pip-version-check; "$cli_venv/bin/python" -m pip list --disable-pip-version-check; } 2>/dev/null | grep -iE '^(geopera|geopera-cli|schemathesis) ' | tr -s ' ' | sort -u | paste -sd ',' -)"
if [ "${1:-}" = venvs ]; then exit 0; fi

# The emulator and our CLI. CI has already built the workspace in the dev profile, so this is
# a no-op there; a release build would compile every dependency a second time for no gain.
if [ "${CONFORMANCE_PREBUILT:-}" != 1 ] &&
   ! cargo build --locked --quiet -p geopera-emulator -p geopera-cli 2>"$work/build.log"; then
  cat "$work/build.log"
  say "FAIL: the emulator or the CLI does not build"
  exit 1
fi
# Where cargo put them: a CARGO_TARGET_DIR of the caller moves them out of target/.
emulator=${CARGO_TARGET_DIR:-target}/debug/geopera-emulator
rust_cli=${CARGO_TARGET_DIR:-target}/debug/geopera
for binary in "$emulator" "$rust_cli"; do
  if [ ! -x "$binary" ]; then
    say "FAIL: $binary is missing (CONFORMANCE_PREBUILT=1 was set before it was built)"
    exit 1
  fi
done

# The emulator on a free loopback port; it prints its URL and demo key first. The control
# endpoints let the CLI check move the emulator's clock; schemathesis never sees them (they are
# not in the contract).
"$emulator" --addr 127.0.0.1:0 --seed 1 --rate-limits off --spec "$spec" --control >"$work/emulator.log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null; wait "$emulator_pid" 2>/dev/null || true' EXIT
url= key=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Geopera emulator listening on \(http:[^ ]*\)$/\1/p' "$work/emulator.log")
  key=$(sed -n 's/^Demo API key.*: \(gpra_[A-Za-z0-9_]*\)$/\1/p' "$work/emulator.log")
  if [ -n "$url" ] && [ -n "$key" ]; then break; fi
  if ! kill -0 "$emulator_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ] || [ -z "$key" ]; then
  cat "$work/emulator.log"
  say "FAIL: the emulator did not start"
  exit 1
fi
say "emulator at $url"

# a. The official Python SDK.
sdk_status=0
timeout 300 "$py" "$here/python_sdk.py" "$url" "$key" >"$work/python_sdk.log" 2>&1 || sdk_status=$?
cat "$work/python_sdk.log"
sdk_summary=$(tail -n 1 "$work/python_sdk.log")

# b. The official CLI, with a private HOME per check; before schemathesis, whose generated
# calls may revoke any key they can find.
cli_status=0
timeout 300 "$cli_venv/bin/python" "$here/official_cli.py" "$cli_venv/bin/geopera" "$url" "$key" \
  "$rust_cli" >"$work/official_cli.log" 2>&1 || cli_status=$?
cat "$work/official_cli.log"
cli_summary=$(tail -n 1 "$work/official_cli.log")

# c. schemathesis, after prepare.py funds the demo organization and names the test data.
if ! prepared=$(timeout 60 "$py" "$here/prepare.py" "$url" "$key" 2>&1); then
  echo "$prepared"
  say "FAIL: could not prepare the emulator for schemathesis"
  exit 1
fi
while IFS='=' read -r name value; do export "$name=$value"; done <<<"$prepared"
st_status=0
rm -f "$work/schemathesis-junit.xml"
timeout 900 "$venv/bin/schemathesis" --no-color --config-file "$here/schemathesis.toml" run "$spec" \
  --url "$url" \
  --header "Authorization: Bearer $key" \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 2 \
  --request-timeout 20 \
  --report junit --report-junit-path "$work/schemathesis-junit.xml" \
  >"$work/schemathesis.log" 2>&1 || st_status=$?
if [ "$st_status" -ne 0 ]; then
  cat "$work/schemathesis.log"
else
  sed -n '/^Test Phases:/,$p' "$work/schemathesis.log"
fi
st_summary=$("$py" - "$work/schemathesis-junit.xml" "$work/schemathesis.log" <<'EOF'
import re
import sys
import xml.etree.ElementTree as ET
try:
    cases = list(ET.parse(sys.argv[1]).getroot().iter("testcase"))
except (OSError, ET.ParseError):
    print("no report")
    sys.exit()
def failed(case):
    return case.find("failure") is not None or case.find("error") is not None
operations = [case for case in cases if case.get("name", "").startswith("POST ")]
scenarios = [case for case in cases if case not in operations]
bad = sum(map(failed, operations))
log = open(sys.argv[2], encoding="utf-8", errors="replace").read()
generated = re.search(r"(\d+) generated, (\d+) passed", log)
print(
    f"operations {len(operations) - bad} passed, {bad} failed"
    + f"; stateful {'failed' if any(map(failed, scenarios)) else 'passed'}"
    + (f"; test cases {generated.group(2)} of {generated.group(1)} passed" if generated else "")
)
EOF
)

# d. One line per part.
result() { if [ "$1" -eq 0 ]; then echo ok; else echo "FAIL (exit $1)"; fi; }
say "python SDK $GEOPERA_SDK: $(result "$sdk_status"): $sdk_summary"
say "schemathesis ${SCHEMATHESIS#*==} (default checks, $examples examples per operation, seed $seed): $(result "$st_status"): $st_summary"
say "official CLI $GEOPERA_CLI: $(result "$cli_status"): $cli_summary"
say "took $((SECONDS - started)) s; logs in $work/"
[ "$sdk_status" -eq 0 ] && [ "$st_status" -eq 0 ] && [ "$cli_status" -eq 0 ]
