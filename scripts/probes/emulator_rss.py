"""Sends N unauthenticated POSTs of SIZE bytes to a running emulator, then prints its RSS.

Usage: python3 scripts/probes/emulator_rss.py PORT PID [N=400] [SIZE=2000000]
with the emulator started as `target/release/geopera-emulator --addr 127.0.0.1:PORT &`.
Every request is refused (401, or 404 for the unknown ids it alternates with); what is
measured is what the emulator keeps of them.
"""
import http.client, sys, time

port, pid = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 400
size = int(sys.argv[4]) if len(sys.argv) > 4 else 2_000_000

def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

body = b'{"host_name": "' + b"x" * (size - 20) + b'"}'
print(f"before: {rss_mb():.1f} MB RSS; sending {n} x {len(body)} bytes")
statuses = {}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
started = time.time()
for i in range(n):
    # A fresh connection for every request: the server may close after an error answer.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", f"/v1/op/no.such.op{i % 7}" if i % 2 else "/v1/op/catalog.search",
                 body=body, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    statuses[resp.status] = statuses.get(resp.status, 0) + 1
    conn.close()
print(f"statuses: {statuses} in {time.time() - started:.1f} s")
time.sleep(1)
print(f"after: {rss_mb():.1f} MB RSS")
