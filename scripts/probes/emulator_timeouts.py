"""Holds a silent, a slow-header and an idle keep-alive connection to the emulator at PORT,
reports when the server closes each, and times probe requests on fresh connections meanwhile.

Usage: python3 scripts/probes/emulator_timeouts.py PORT DEMO_KEY [LIMIT_SECONDS=90]
with the emulator started as `target/release/geopera-emulator --addr 127.0.0.1:PORT
[--header-read-timeout 5s --idle-timeout 2s] &` (it prints the demo key).
"""
import socket, sys, threading, time

port, key = int(sys.argv[1]), sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 90
REQ = (f"POST /v1/op/billing.credits.balance HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n"
       "content-type: application/json\r\ncontent-length: 2\r\n\r\n{}").encode()
results = {}

def read_answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < length:
        rest += s.recv(4096)
    return int(head[9:12])

def wait_close(s, start):
    s.settimeout(0.05)
    while time.time() - start < limit:
        try:
            if s.recv(1024) == b"":
                return time.time() - start
        except socket.timeout:
            continue
        except OSError:
            return time.time() - start
    return None

def silent():
    s = socket.create_connection(("127.0.0.1", port)); start = time.time()
    results["silent connection closed after (s)"] = wait_close(s, start)

def slow():
    s = socket.create_connection(("127.0.0.1", port)); start = time.time()
    s.sendall(b"POST /v1/op/billing.credits.balance HTTP/1.1\r\n")
    s.settimeout(1.0)
    while time.time() - start < limit:
        try:
            s.sendall(b"x-slow: 1\r\n")
            if s.recv(1024) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    took = time.time() - start
    results["slow header sender (1 line/s) closed after (s)"] = took if took < limit else None

def idle():
    s = socket.create_connection(("127.0.0.1", port))
    assert read_answer((s.sendall(REQ), s)[1]) == 200
    start = time.time()
    results["idle keep-alive connection closed after (s)"] = wait_close(s, start)

threads = [threading.Thread(target=f) for f in (silent, slow, idle)]
for t in threads: t.start()
probes = []
deadline = time.time() + 3
while time.time() < deadline:
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.time(); s.sendall(REQ); status = read_answer(s); probes.append(time.time() - t0); s.close()
    assert status == 200
    time.sleep(0.1)
for t in threads: t.join()
for name, value in results.items():
    print(f"{name}: {value:.2f}" if value is not None else f"{name}: still open after {limit} s")
print(f"{len(probes)} probes on fresh connections meanwhile: max {max(probes)*1000:.1f} ms, median {sorted(probes)[len(probes)//2]*1000:.1f} ms")
