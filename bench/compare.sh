#!/usr/bin/env bash
# Benchmarks of catalog.search, side by side in one run: our SDK (async and blocking), a plain
# reqwest client (decoding into serde_json::Value, or reading bytes only) and the official
# Python SDK, against one fixed-response server; then peak RSS with 1,000 calls in flight,
# the emulator's throughput and the compile time of the `geopera` crate.
#
# Usage: bench/compare.sh [--quick] [--no-python] [--no-emulator] [--no-decode] [--no-compile]
#   --quick        one round of 1 s windows, no compile measurement (a smoke run, ~2 minutes)
#   BENCH_DURATION / BENCH_WARMUP (seconds, default 3 / 1) set the measured window;
#   BENCH_ROUNDS (default 2) how often every client is measured against the bench server,
#   round-robin, the report keeping each cell's best run; BENCH_PAIRS (default 5) how many
#   back-to-back pairs of the async and the blocking client measure their ratio.
#
# The server is pinned to core 0 and every client to core 1 when `taskset` is available and
# there are at least two cores. Results: target/bench-results/{results.jsonl,report.md}.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-3}
warmup=${BENCH_WARMUP:-1}
rounds=${BENCH_ROUNDS:-2}
pairs=${BENCH_PAIRS:-5}
python=1 emulator=1 decode=1 compile=1
for arg in "$@"; do
  case "$arg" in
    --quick) duration=1 warmup=0.3 rounds=1 pairs=1 compile=0 ;;
    --no-python) python=0 ;;
    --no-emulator) emulator=0 ;;
    --no-decode) decode=0 ;;
    --no-compile) compile=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

out=target/bench-results
mkdir -p "$out"
results=$out/results.jsonl
: > "$results"
# Where cargo puts the release binaries: a CARGO_TARGET_DIR of the caller moves them.
bin=${CARGO_TARGET_DIR:-target}/release

step() { printf '\n==> %s\n' "$*" >&2; }

pin_server=() pin_client=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 0)
  pin_client=(taskset -c 1)
else
  echo "taskset or a second core is missing: server and clients are not pinned" >&2
fi
# 1,000 connections in flight need as many file descriptors on each side.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Starts a server in the background with its stdout in $1; waits (at most 120 s) for a line
# matching $2 and sets `url` to the first URL in it.
start_server() {
  local log=$1 pattern=$2
  shift 2
  "$@" >"$log" 2>"$log.err" &
  local pid=$! line
  pids+=("$pid")
  for _ in $(seq 1200); do
    line=$(grep -m1 -E "$pattern" "$log" 2>/dev/null || true)
    if [ -n "$line" ]; then
      url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' <<<"$line" | head -1)
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "server did not start: $*" >&2
  cat "$log.err" >&2
  return 1
}

stop_server() {
  kill "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
}

# client SCENARIO MODE LIMIT CONCURRENCY URL [extra args]: one bench-client run, appended to
# the results; a failed run is reported and skipped.
client() {
  local scenario=$1 mode=$2 limit=$3 concurrency=$4 url=$5
  shift 5
  printf '%-8s %-14s limit %-3s concurrency %-4s ' "$scenario" "$mode" "$limit" "$concurrency" >&2
  local line
  if line=$("${pin_client[@]}" "$bin/bench-client" --scenario "$scenario" --mode "$mode" \
      --url "$url" --limit "$limit" --concurrency "$concurrency" \
      --duration "$duration" --warmup "$warmup" "$@"); then
    echo "$line" >>"$results"
    grep -oE '"calls_per_sec":[0-9.]+' <<<"$line" | cut -d: -f2 | xargs printf '%.0f calls/s\n' >&2
  else
    echo "failed: $line" >&2
  fi
}

step "building release binaries"
cargo build --release --locked -p geopera-bench -p geopera-emulator --bins

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

step "bench server (canned pages taken from the emulator at start-up)"
start_server "$out/server.log" '^http://' "${pin_server[@]}" "$bin/bench-server"
echo "serving at $url" >&2
cat "$out/server.log.err" >&2

venv=target/bench-venv
if [ "$python" = 1 ]; then
  step "official Python SDK (geopera==2.1.0) in $venv"
  if ! { { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
         "$venv/bin/pip" install --quiet --disable-pip-version-check 'geopera==2.1.0' >&2; }; then
    echo "pip or PyPI is unavailable: skipping the Python SDK" >&2
    python=0
  fi
fi

python_client() {
  local limit=$1 concurrency=$2
  printf '%-8s %-14s limit %-3s concurrency %-4s ' static python "$limit" "$concurrency" >&2
  local line
  if line=$("${pin_client[@]}" "$venv/bin/python" bench/python_sdk.py --url "$url" \
      --limit "$limit" --concurrency "$concurrency" --duration "$duration" --warmup "$warmup"); then
    echo "$line" >>"$results"
    grep -oE '"calls_per_sec": [0-9.]+' <<<"$line" | cut -d' ' -f2 | xargs printf '%.0f calls/s\n' >&2
  else
    echo "failed" >&2
  fi
}

for round in $(seq "$rounds"); do
  step "round $round/$rounds against the bench server (${warmup} s warm-up, ${duration} s measured)"
  for limit in 10 500; do
    for concurrency in 1 64; do
      for mode in sdk-async sdk-blocking reqwest-value reqwest-bytes; do
        client static "$mode" "$limit" "$concurrency" "$url"
      done
      if [ "$python" = 1 ]; then python_client "$limit" "$concurrency"; fi
    done
  done
done

# The blocking face against the async one at 10 items, measured in back-to-back pairs: a
# change in the machine between pairs cancels out of each pair's ratio, which the best-of
# cells above cannot promise.
step "blocking against async, $pairs back-to-back pairs at 10 items"
for pair in $(seq "$pairs"); do
  for concurrency in 1 64; do
    for mode in sdk-async sdk-blocking; do
      client paired "$mode" 10 "$concurrency" "$url"
    done
  done
done
stop_server

step "peak RSS with 1,000 calls in flight (server answers after 100 ms)"
start_server "$out/server-delay.log" '^http://' "${pin_server[@]}" "$bin/bench-server" --delay-ms 100
for mode in sdk-async sdk-blocking reqwest-value; do
  client rss "$mode" 10 1000 "$url"
done
stop_server

if [ "$emulator" = 1 ]; then
  step "emulator throughput (rate limits off, request log off)"
  start_server "$out/emulator.log" 'listening on' env RUST_LOG=warn \
    "${pin_server[@]}" "$bin/geopera-emulator" --addr 127.0.0.1:0 --rate-limits off
  # The banner's key line may come just after the line that says it listens.
  key=""
  for _ in $(seq 50); do
    key=$(grep -m1 -oE 'gpra_[A-Za-z0-9_]+' "$out/emulator.log" || true)
    if [ -n "$key" ]; then break; fi
    sleep 0.1
  done
  if [ -z "$key" ]; then
    echo "the emulator printed no demo key" >&2
    exit 1
  fi
  for limit in 10 500; do
    client emulator reqwest-bytes "$limit" 64 "$url" --token "$key"
  done
  client emulator sdk-async 10 64 "$url" --token "$key"
  stop_server
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$decode" = 1 ]; then
  step "decoding micro-benchmarks (benches/decode.rs)"
  if cargo bench --locked -p geopera-bench --bench decode --no-run >"$out/decode-build.log" 2>&1 &&
     "${pin_client[@]}" cargo bench --locked -p geopera-bench --bench decode >"$out/decode.txt" 2>&1; then
    cat "$out/decode.txt" >&2
  else
    echo "the decoding benchmarks failed; see $out/decode-build.log and $out/decode.txt" >&2
    decode=0
  fi
fi

if [ "$compile" = 1 ]; then
  # A separate target directory, so the shared one is neither wiped nor reused.
  ctarget=target/bench-compile
  for profile in debug release; do
    step "clean $profile build of the geopera crate (CARGO_TARGET_DIR=$ctarget)"
    rm -rf "$ctarget"
    flags=()
    [ "$profile" = release ] && flags=(--release)
    started=$(date +%s%N)
    if CARGO_TARGET_DIR=$ctarget cargo build --locked -p geopera "${flags[@]}" --timings \
        >"$out/compile-$profile.log" 2>&1; then
      seconds=$(awk -v ns=$(($(date +%s%N) - started)) 'BEGIN { printf "%.1f", ns / 1e9 }')
      cp "$ctarget/cargo-timings/cargo-timing.html" "$out/cargo-timing-$profile.html"
      "$bin/bench-report" timings --html "$out/cargo-timing-$profile.html" \
        --profile "$profile" --seconds "$seconds" >>"$results"
      echo "$seconds s" >&2
    else
      echo "the build failed; see $out/compile-$profile.log" >&2
    fi
  done
  rm -rf "$ctarget"
fi

step "report"
{
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (with uncommitted changes in crates/)')."
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "- $(rustc --version); $( [ -x target/bench-venv/bin/python ] && target/bench-venv/bin/python --version 2>&1 || echo 'no Python')"
  echo "- pinning: server \`${pin_server[*]:-none}\`, client \`${pin_client[*]:-none}\`; ${warmup} s warm-up, ${duration} s measured per run, $rounds round(s)"
  echo "- canned pages: $(grep -oE 'pages of .*' "$out/server.log.err" | sed 's/^pages of //' || echo unknown)"
  echo "- load average (1/5/15 min) before: $load_before, after the load tests: $load_after"
  echo
  "$bin/bench-report" table "$results"
  if [ "$decode" = 1 ]; then
    echo "### Decoding one page (\`cargo bench -p geopera-bench --bench decode\`)"
    echo
    echo '```text'
    sed -n '/^decode/,$p' "$out/decode.txt"
    echo '```'
  fi
} >"$out/report.md"
cat "$out/report.md"
echo >&2
echo "results: $results, report: $out/report.md" >&2
