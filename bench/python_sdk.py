"""Load client for the official Python SDK (geopera 2.1.0), for bench/compare.sh.

Keeps `--concurrency` catalog.search calls in flight for a bounded time and prints one JSON
line in the same shape as `bench-client`: concurrency 1 uses `sync_detailed`, anything else
`asyncio_detailed` behind an `asyncio.Semaphore`. CPU time is `time.process_time()` of this
process over the measured window; peak RSS is `ru_maxrss`.
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import time

from geopera import AuthenticatedClient
from geopera.api.operations import catalog_search
from geopera.models import CatalogSearchInput, CatalogSearchOutput

HOST_NAME = "earthsearch-aws"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="gpra_bench")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--scenario", default="static")
    return parser.parse_args()


def body(limit):
    return CatalogSearchInput(host_name=HOST_NAME, limit=limit)


def check(response, limit):
    """The first answer must be a page of the size asked for."""
    if response.status_code != 200 or not isinstance(response.parsed, CatalogSearchOutput):
        raise SystemExit(f"the first call answered {response.status_code}")
    items = len(response.parsed.to_dict().get("features", []))
    if items != limit:
        raise SystemExit(f"asked for {limit} items, the page holds {items}")


class Counters:
    def __init__(self):
        self.done = 0
        self.errors = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_error = None

    def begin(self):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self, response, error=None):
        self.in_flight -= 1
        if error is None and response.status_code == 200 and response.parsed is not None:
            self.done += 1
        else:
            self.errors += 1
            if self.first_error is None:
                self.first_error = repr(error) if error else f"status {response.status_code}"


def run_queue_wait():
    """Seconds this process's live threads waited for a CPU while ready to run (Linux)."""
    total = 0
    try:
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/schedstat") as stat:
                    total += int(stat.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    except OSError:
        return 0.0
    return total / 1e9


def mark(counters):
    return (
        time.perf_counter(),
        time.process_time(),
        counters.done,
        counters.errors,
        run_queue_wait(),
    )


def run_sync(args, counters):
    with AuthenticatedClient(base_url=args.url, token=args.token) as client:
        check(catalog_search.sync_detailed(client=client, body=body(args.limit)), args.limit)
        begin = time.perf_counter()
        start = None
        while True:
            now = time.perf_counter()
            if start is None and now - begin >= args.warmup:
                start = mark(counters)
            if start is not None and now - start[0] >= args.duration:
                return start, mark(counters)
            counters.begin()
            try:
                response = catalog_search.sync_detailed(client=client, body=body(args.limit))
                counters.end(response)
            except Exception as error:  # noqa: BLE001 - counted, and the loop is bounded
                counters.end(None, error)


async def run_async(args, counters):
    async with AuthenticatedClient(base_url=args.url, token=args.token) as client:
        check(
            await catalog_search.asyncio_detailed(client=client, body=body(args.limit)),
            args.limit,
        )
        semaphore = asyncio.Semaphore(args.concurrency)
        stop = False
        tasks = set()

        async def one():
            try:
                response = await catalog_search.asyncio_detailed(
                    client=client, body=body(args.limit)
                )
                counters.end(response)
            except Exception as error:  # noqa: BLE001 - counted, and the loop is bounded
                counters.end(None, error)
            finally:
                semaphore.release()

        async def launcher():
            while not stop:
                await semaphore.acquire()
                if stop:
                    semaphore.release()
                    break
                counters.begin()
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        launching = asyncio.create_task(launcher())
        await asyncio.sleep(args.warmup)
        start = mark(counters)
        await asyncio.sleep(args.duration)
        end = mark(counters)
        stop = True
        await launching
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return start, end


def main():
    args = parse_args()
    counters = Counters()
    if args.concurrency == 1:
        mode = "python-sync"
        start, end = run_sync(args, counters)
    else:
        mode = "python-async"
        start, end = asyncio.run(run_async(args, counters))
    calls = end[2] - start[2]
    seconds = end[0] - start[0]
    cpu = end[1] - start[1]
    sample = {
        "scenario": args.scenario,
        "mode": mode,
        "limit": args.limit,
        "concurrency": args.concurrency,
        "calls": calls,
        "errors": end[3] - start[3],
        "seconds": seconds,
        "calls_per_sec": calls / seconds,
        "cpu_us_per_call": cpu * 1e6 / calls if calls else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_util": cpu / seconds,
        "cpu_wait": max(end[4] - start[4], 0.0) / seconds,
        "max_in_flight": counters.max_in_flight,
    }
    if counters.first_error:
        sample["first_error"] = counters.first_error
    print(json.dumps(sample))
    return 0 if calls else 1


if __name__ == "__main__":
    sys.exit(main())
