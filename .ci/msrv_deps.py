#!/usr/bin/env python3
"""Fails when the locked normal dependency tree of a publishable crate needs a newer Rust.

A crate's `rust-version` is a promise to its users: whatever it pulls in at build time (normal
and build dependencies, proc macros, on every target) must compile with that toolchain too.
Dev-dependencies are ours alone and may need more.
"""

import json
import subprocess
import sys


def parse(version):
    """`1.85` and `1.85.0` are the same toolchain."""
    parts = [int(part) for part in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    raw = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    meta = json.loads(raw)
    packages = {p["id"]: p for p in meta["packages"]}
    edges = {
        node["id"]: [
            dep["pkg"]
            for dep in node["deps"]
            if any(kind["kind"] in (None, "build") for kind in dep["dep_kinds"])
        ]
        for node in meta["resolve"]["nodes"]
    }

    failures = []
    for member in meta["workspace_members"]:
        root = packages[member]
        if root.get("publish") == []:
            continue
        if not root.get("rust_version"):
            failures.append(f"{root['name']} declares no rust-version")
            continue
        ours = parse(root["rust_version"])
        too_new = []
        seen, stack = {member}, [member]
        while stack:
            for dep in edges.get(stack.pop(), []):
                if dep in seen:
                    continue
                seen.add(dep)
                stack.append(dep)
                theirs = packages[dep].get("rust_version")
                if theirs and parse(theirs) > ours:
                    too_new.append(f"{packages[dep]['name']} {packages[dep]['version']} needs Rust {theirs}")
        for line in sorted(too_new):
            failures.append(f"{root['name']} (rust-version {root['rust_version']}): {line}")
        if not too_new:
            print(f"{root['name']}: {len(seen) - 1} normal and build dependencies, "
                  f"none needs more than Rust {root['rust_version']}")

    if failures:
        for line in failures:
            print(f"error: {line}", file=sys.stderr)
        print(
            "Pin an older version (`cargo update -p NAME --precise VERSION`; resolver 3 picks "
            "compatible ones by itself) or raise rust-version deliberately.",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
