"""What a write costs the emulator's state file as it fills (`--state FILE`).

Starts the emulator binary given (a release build: `cargo build --release -p geopera-emulator`)
with a fresh state file in a temporary directory, creates `--items` records with an
`Idempotency-Key` each (as the SDKs send with every create) — items in one project, or with
`--records orders` archive orders of an open-data capture — and prints the mean time of a
create over each window of `--window` creates, then one JSON line with the first and last
window. A file rewritten whole on every write shows as a time that grows with the count.

    python3 bench/state_file.py target/release/geopera-emulator --items 2000
    python3 bench/state_file.py target/release/geopera-emulator --items 2000 --records orders
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

# How long the emulator may take to start, and one request to answer.
START_SECS = 60
REQUEST_SECS = 30


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("emulator", help="path to the geopera-emulator binary")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--port", type=int, default=18787)
    parser.add_argument("--records", choices=["items", "orders"], default="items")
    return parser.parse_args()


def start(binary, directory, port):
    """The running emulator and its demo key, read from what it prints at start-up. Its output
    goes to a file: a pipe nobody reads after start-up would fill and stall it."""
    state = os.path.join(directory, "state.sqlite")
    log_path = os.path.join(directory, "emulator.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [binary, "--state", state, "--rate-limits", "off", "--addr", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_SECS
    while time.monotonic() < deadline and process.poll() is None:
        with open(log_path) as log:
            found = re.search(r"Demo API key[^:]*: (gpra_[0-9a-f]+)", log.read())
        if found:
            return process, found.group(1)
        time.sleep(0.1)
    process.kill()
    sys.exit("the emulator did not print its demo key")


def call(base, key, operation, body):
    request = urllib.request.Request(
        f"{base}/v1/op/{operation}",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    with urllib.request.urlopen(request, timeout=REQUEST_SECS) as answer:
        return json.loads(answer.read())


def main():
    args = parse_args()
    if not 0 < args.window <= args.items:
        sys.exit("--window must be between 1 and --items")
    with tempfile.TemporaryDirectory() as directory:
        process, key = start(args.emulator, directory, args.port)
        try:
            base = f"http://127.0.0.1:{args.port}"
            if args.records == "items":
                project = call(base, key, "projects.create", {"name": "state file bench"})["id"]
                operation = "items.create"
                make = lambda n: {"project_id": project, "name": f"item {n}", "type": "user_raster"}
            else:
                search = {"host_name": "earthsearch-aws", "limit": 1}
                capture = call(base, key, "catalog.search", search)["features"][0]["id"]
                # Enough for every order (one costs a few thousand credits), in one write
                # before the timing starts.
                call(base, key, "billing.topup", {"credits": 5000 * args.items})
                operation = "orders.archive.place"
                make = lambda n: {"captures": [{"id": capture}], "display_name": f"order {n}"}
            windows = []
            started = time.perf_counter()
            for n in range(1, args.items + 1):
                call(base, key, operation, make(n))
                if n % args.window == 0:
                    now = time.perf_counter()
                    ms = (now - started) / args.window * 1000
                    windows.append(ms)
                    print(f"{n:6} {args.records}: {ms:6.2f} ms a create", file=sys.stderr)
                    started = now
        finally:
            process.terminate()
            process.wait(timeout=START_SECS)
    print(json.dumps({args.records: args.items, "first_window_ms": windows[0], "last_window_ms": windows[-1]}))


if __name__ == "__main__":
    main()
