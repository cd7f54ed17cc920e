"""Runs the official `geopera` CLI, unmodified, against a running geopera-emulator.

Usage: official_cli.py GEOPERA_EXECUTABLE BASE_URL API_KEY [RUST_GEOPERA_EXECUTABLE]

The emulator must run with `--control` (the session check moves its clock). Every command runs
with a fresh, private HOME, so the CLI's credential file (`~/.config/geopera/credentials.json`)
never touches the caller's. The CLI exits 0 after some failures (`login`, `whoami`), so each
check asserts the exit status AND what the command printed. Prints one line per check and
exits non-zero if any fails. Given the Rust `geopera` too, it also checks that the two share one
credentials file: a login by either is used by the other's `whoami`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import httpx

ADMIN = ("admin", "admin-password")


class Cli:
    def __init__(self, executable: str, url: str, home: Path):
        self.executable = executable
        self.url = url
        self.home = home
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("GEOPERA_") and name not in ("HOME", "XDG_CONFIG_HOME")
        }
        self.env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1")

    def args(self, *args: str) -> list[str]:
        return [self.executable, *args]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(*args),
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def credentials(self) -> dict:
        return json.loads((self.home / ".config" / "geopera" / "credentials.json").read_text())


def expect(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    shown = f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.returncode == code, shown
    assert "Error" not in result.stdout + result.stderr, shown
    assert "Traceback" not in result.stderr, shown
    for needle in needles:
        assert needle in result.stdout, f"{needle!r} missing\n{shown}"


def search(cli: Cli) -> None:
    result = cli.run(
        "catalog", "search", "--api-url", cli.url, "--host-name", "earthsearch-aws", "--limit", "2"
    )
    expect(result, 0)
    answer = json.loads(result.stdout)
    assert answer["type"] == "FeatureCollection", answer
    assert len(answer["features"]) == 2, answer


def check_api_key(cli: Cli, key: str) -> None:
    result = cli.run("login", "--api-url", cli.url, "--api-key", key)
    expect(result, 0, "Logged in as key_", "(API key, profile 'default')")
    stored = cli.credentials()["default"]
    assert stored["auth"] == {"type": "api_key", "api_key": key}, stored
    assert stored["api_url"] == cli.url, stored

    result = cli.run("whoami", "--api-url", cli.url)
    expect(result, 0, "principal_type:  api_key", "org_id:          org_demo", "scope:           *")
    assert re.search(r"^sub:\s+key_[0-9a-f]+$", result.stdout, re.M), result.stdout
    search(cli)

    result = cli.run("logout")
    expect(result, 0, "Logged out (profile 'default').")
    result = cli.run("login", "--api-url", cli.url, "--api-key", "gpra_not_a_key")
    assert "API key validation failed" in result.stderr, result.stderr
    assert "auth" not in cli.credentials().get("default", {}), cli.credentials()


def check_device_login(cli: Cli, url: str) -> None:
    login = subprocess.Popen(
        cli.args("login", "--api-url", cli.url, "--no-browser"),
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert login.stdout is not None
        page = None
        deadline = time.monotonic() + 30
        while page is None and time.monotonic() < deadline:
            line = login.stdout.readline()
            if not line:
                break
            found = re.search(r"(http\S+/realms/public/device\?user_code=(\S+))", line)
            if found:
                page = found
        assert page is not None, "the CLI printed no verification URL"
        user_code = page.group(2)
        approved = httpx.post(
            page.group(1).split("?")[0],
            data={
                "user_code": user_code,
                "username": ADMIN[0],
                "password": ADMIN[1],
                "action": "approve",
            },
            timeout=30,
        )
        assert approved.status_code == 200, approved.text
        out, err = login.communicate(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
            login.communicate()
    assert login.returncode == 0, err
    assert "Logged in as usr_admin (profile 'default')." in out, out + err
    auth = cli.credentials()["default"]["auth"]
    assert auth["type"] == "oauth" and auth["refresh_token"] and auth["expires_at"], auth

    result = cli.run("whoami", "--api-url", cli.url)
    expect(result, 0, "sub:             usr_admin", "principal_type:  user", "org_id:          org_demo")
    search(cli)

    # Past the access token's 300 s on the emulator's clock (the CLI's own clock says the token
    # is fresh): the call is refused once, the CLI refreshes once and retries.
    before = httpx.get(f"{url}/_emulator/oidc/counters", timeout=30).json()["refresh_grants"]
    moved = httpx.post(f"{url}/_emulator/clock", json={"advance_seconds": 301}, timeout=30)
    assert moved.status_code == 200, moved.text
    search(cli)
    after = httpx.get(f"{url}/_emulator/oidc/counters", timeout=30).json()["refresh_grants"]
    assert after == before + 1, (before, after)
    assert cli.credentials()["default"]["auth"]["refresh_token"] != auth["refresh_token"]

    refresh_token = cli.credentials()["default"]["auth"]["refresh_token"]
    result = cli.run("logout")
    expect(result, 0, "Logged out (profile 'default').")
    replay = httpx.post(
        f"{url}/realms/public/protocol/openid-connect/token",
        data={"grant_type": "refresh_token", "client_id": "geopera-cli", "refresh_token": refresh_token},
        timeout=30,
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text


def check_shared_file(theirs: Cli, ours: Cli, key: str) -> None:
    """Both CLIs run with the same HOME; neither is told the URL after the login that stored it."""
    expect(ours.run("login", "--api-url", ours.url, "--api-key", key), 0, "(API key, profile 'default')")
    result = theirs.run("whoami")
    expect(result, 0, "principal_type:  api_key", "org_id:          org_demo", f"api_url:         {theirs.url}")
    expect(ours.run("logout"), 0)

    expect(theirs.run("login", "--api-url", theirs.url, "--api-key", key), 0, "(API key, profile 'default')")
    result = ours.run("whoami")
    expect(result, 0, "api_key", "org_demo", theirs.url)
    assert ours.credentials()["default"]["auth"] == {"type": "api_key", "api_key": key}, ours.credentials()


def main() -> int:
    executable, url, key = sys.argv[1], sys.argv[2], sys.argv[3]
    checks: list[tuple[str, Callable[[Cli], None]]] = [
        ("login --api-key, whoami, catalog search, logout", lambda cli: check_api_key(cli, key)),
        ("device login, whoami, search, refresh after expiry, logout", lambda cli: check_device_login(cli, url)),
    ]
    if len(sys.argv) > 4:
        rust = sys.argv[4]
        checks.append(
            (
                "one credentials file: Rust login -> official whoami, official login -> Rust whoami",
                lambda cli: check_shared_file(cli, Cli(rust, cli.url, cli.home), key),
            )
        )
    failed = 0
    for name, check in checks:
        with tempfile.TemporaryDirectory(prefix="geopera-cli-home-") as home:
            try:
                check(Cli(executable, url, Path(home)))
                print(f"ok    {name}")
            except Exception:  # noqa: BLE001 - report every check
                failed += 1
                print(f"FAIL  {name}")
                traceback.print_exc(file=sys.stdout)
    print(f"{len(checks) - failed} of {len(checks)} CLI checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
