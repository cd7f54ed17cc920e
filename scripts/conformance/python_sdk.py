"""Runs the official Python SDK, unmodified, against a running geopera-emulator.

Usage: python_sdk.py BASE_URL API_KEY

Every check calls the SDK the way its documentation shows and asserts that the answer parses
to the documented typed model. Prints one line per check and exits non-zero if any fails.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Callable
from http import HTTPStatus

from geopera import AuthenticatedClient, Client, Geopera
from geopera.api.operations import (
    api_keys_create,
    api_keys_revoke,
    catalog_search,
    orders_archive_estimate,
    orders_tasking_estimate,
)
from geopera.models import (
    ApiKeyCreateInput,
    ApiKeyCreateOutput,
    ApiKeyRevokeInput,
    ApiKeyRevokeOutput,
    ArchiveEstimateInput,
    ArchiveEstimateOutput,
    CatalogSearchInput,
    CatalogSearchOutput,
    HTTPValidationError,
    Problem,
    TaskingEstimateInput,
    TaskingEstimateOutput,
    ValidationError,
)
from geopera.types import Response

# A 0.1° square near Sydney, as a GeoJSON polygon.
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[151.0, -34.0], [151.1, -34.0], [151.1, -33.9], [151.0, -33.9], [151.0, -34.0]]],
}


class Failed(AssertionError):
    """A check whose answer was not what the SDK documents."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def expect_type(value: object, cls: type, what: str) -> None:
    expect(
        isinstance(value, cls),
        f"{what}: expected {cls.__name__}, got {type(value).__name__}: {value!r:.300}",
    )


def search_body(limit: int = 5, **extra: object) -> CatalogSearchInput:
    return CatalogSearchInput(
        host_name="earthsearch-aws", collections=["sentinel-2-l2a"], limit=limit, **extra
    )


def expect_page(result: object, what: str, limit: int = 5) -> CatalogSearchOutput:
    expect_type(result, CatalogSearchOutput, what)
    assert isinstance(result, CatalogSearchOutput)
    expect(result["type"] == "FeatureCollection", f"{what}: type is {result['type']!r}")
    features = result["features"]
    expect(len(features) == limit, f"{what}: {len(features)} features, expected {limit}")
    expect(result["numberReturned"] == limit, f"{what}: numberReturned {result['numberReturned']}")
    expect(
        all(f["collection"] == "sentinel-2-l2a" for f in features),
        f"{what}: a feature outside the requested collection",
    )
    return result


def expect_detailed(resp: object, status: int, what: str) -> Response:
    expect_type(resp, Response, what)
    assert isinstance(resp, Response)
    expect(resp.status_code == status, f"{what}: status {resp.status_code}, expected {status}")
    expect_type(resp.status_code, HTTPStatus, f"{what}: status_code")
    expect(isinstance(resp.content, bytes) and resp.content, f"{what}: empty content")
    return resp


def expect_problem(result: object, status: int, what: str) -> Problem:
    expect_type(result, Problem, what)
    assert isinstance(result, Problem)
    expect(result.status == status, f"{what}: problem status {result.status}, expected {status}")
    expect(bool(result.title) and bool(result.detail), f"{what}: empty title or detail")
    return result


class Checks:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.client = AuthenticatedClient(base_url=base_url, token=api_key)

    def sync(self) -> str:
        page = expect_page(catalog_search.sync(client=self.client, body=search_body()), "sync")
        # The cursor from one page fetches the next, with no overlap.
        following = catalog_search.sync(client=self.client, body=search_body(next_=page["next"]))
        following = expect_page(following, "sync (next page)")
        first = {f["id"] for f in page["features"]}
        second = {f["id"] for f in following["features"]}
        expect(not first & second, f"pages overlap: {sorted(first & second)}")
        return "CatalogSearchOutput, two pages via next"

    def sync_detailed(self) -> str:
        resp = catalog_search.sync_detailed(client=self.client, body=search_body(limit=3))
        resp = expect_detailed(resp, 200, "sync_detailed")
        expect_page(resp.parsed, "sync_detailed.parsed", limit=3)
        content_type = resp.headers.get("content-type", "")
        expect(content_type.startswith("application/json"), f"content-type {content_type!r}")
        return "Response[CatalogSearchOutput] 200"

    def asyncio(self) -> str:
        async def run() -> list[object]:
            async with AuthenticatedClient(base_url=self.base_url, token=self.api_key) as client:
                bodies = [
                    CatalogSearchInput(host_name="earthsearch-aws", collections=[c], limit=2)
                    for c in ("sentinel-2-l2a", "landsat-c2-l2", "sentinel-1-grd")
                ]
                return await asyncio.gather(
                    *(catalog_search.asyncio(client=client, body=body) for body in bodies)
                )

        results = asyncio.run(run())
        for collection, result in zip(("sentinel-2-l2a", "landsat-c2-l2", "sentinel-1-grd"), results):
            expect_type(result, CatalogSearchOutput, f"asyncio {collection}")
            assert isinstance(result, CatalogSearchOutput)
            got = {f["collection"] for f in result["features"]}
            expect(got == {collection}, f"asyncio {collection}: collections {got}")
        return "3 concurrent CatalogSearchOutput under async with"

    def asyncio_detailed(self) -> str:
        async def run() -> object:
            client = AuthenticatedClient(base_url=self.base_url, token=self.api_key)
            try:
                return await catalog_search.asyncio_detailed(client=client, body=search_body())
            finally:
                await client.get_async_httpx_client().aclose()

        resp = expect_detailed(asyncio.run(run()), 200, "asyncio_detailed")
        expect_page(resp.parsed, "asyncio_detailed.parsed")
        return "Response[CatalogSearchOutput] 200"

    def fluent(self) -> str:
        geopera = Geopera(token=self.api_key, base_url=self.base_url)
        result = geopera.catalog.search(
            {"host_name": "earthsearch-aws", "collections": ["sentinel-2-l2a"], "limit": 5}
        )
        expect_page(result, "fluent catalog.search")
        resp = geopera.catalog.search({"host_name": "earthsearch-aws", "limit": 1}, detailed=True)
        expect_detailed(resp, 200, "fluent detailed")
        expect_type(geopera.client, AuthenticatedClient, "fluent .client")
        estimate = geopera.orders.tasking.estimate({"groups": [{"product": "optical", "geometry": SQUARE}]})
        expect_type(estimate, TaskingEstimateOutput, "fluent orders.tasking.estimate")
        return "catalog.search, detailed=True, orders.tasking.estimate"

    def estimate(self) -> str:
        tasking = orders_tasking_estimate.sync(
            client=self.client,
            body=TaskingEstimateInput.from_dict(
                {"groups": [{"product": "optical", "geometry": SQUARE}]}
            ),
        )
        expect_type(tasking, TaskingEstimateOutput, "orders_tasking_estimate")
        assert isinstance(tasking, TaskingEstimateOutput)
        expect(tasking.total_credits > 0, f"tasking total_credits {tasking.total_credits}")
        expect(
            abs(tasking.total_aud * 100 - tasking.total_credits) < 0.5,
            f"tasking: {tasking.total_aud} AUD is not {tasking.total_credits} credits / 100",
        )
        page = catalog_search.sync(
            client=self.client,
            body=CatalogSearchInput(host_name="earthsearch-aws", limit=2),
        )
        assert isinstance(page, CatalogSearchOutput)
        captures = [{"id": f["id"], "geometry": f["geometry"]} for f in page["features"]]
        archive = orders_archive_estimate.sync(
            client=self.client, body=ArchiveEstimateInput.from_dict({"captures": captures})
        )
        expect_type(archive, ArchiveEstimateOutput, "orders_archive_estimate")
        assert isinstance(archive, ArchiveEstimateOutput)
        expect(archive.total_credits > 0, f"archive total_credits {archive.total_credits}")
        expect(not archive.errors, f"archive estimate errors: {archive.errors}")
        return (
            f"TaskingEstimateOutput {tasking.total_credits} credits, "
            f"ArchiveEstimateOutput {archive.total_credits} credits"
        )

    def unauthenticated(self) -> str:
        bad = AuthenticatedClient(base_url=self.base_url, token="gpra_not_a_real_key")
        problem = expect_problem(catalog_search.sync(client=bad, body=search_body()), 401, "bad token")
        expect(problem.title == "Unauthenticated", f"401 title {problem.title!r}")
        resp = catalog_search.sync_detailed(client=bad, body=search_body())
        content_type = resp.headers.get("content-type", "")
        expect(
            content_type.startswith("application/problem+json"),
            f"401 content-type {content_type!r}",
        )
        return f"Problem 401 {problem.title!r}"

    def forbidden(self) -> str:
        created = api_keys_create.sync(
            client=self.client,
            body=ApiKeyCreateInput(name="conformance read-only", permissions=["catalog:read"]),
        )
        expect_type(created, ApiKeyCreateOutput, "api_keys_create")
        assert isinstance(created, ApiKeyCreateOutput)
        expect(isinstance(created.key, str) and created.key.startswith("gpra_"), "no gpra_ secret")
        expect(created.permissions == ["catalog:read"], f"permissions {created.permissions}")
        limited = AuthenticatedClient(base_url=self.base_url, token=created.key)
        # The key works for what it was granted ...
        expect_page(catalog_search.sync(client=limited, body=search_body()), "limited key search")
        # ... and is refused the rest.
        body = TaskingEstimateInput.from_dict({"groups": [{"product": "optical", "geometry": SQUARE}]})
        problem = expect_problem(
            orders_tasking_estimate.sync(client=limited, body=body), 403, "limited key estimate"
        )
        expect(
            problem.detail.startswith("missing scope '") and "'orders.tasking.estimate'" in problem.detail,
            f"403 detail {problem.detail!r}",
        )
        # Revoked, the key is refused at once.
        revoked = api_keys_revoke.sync(client=self.client, body=ApiKeyRevokeInput(key_id=created.id))
        expect_type(revoked, ApiKeyRevokeOutput, "api_keys_revoke")
        expect_problem(catalog_search.sync(client=limited, body=search_body()), 401, "revoked key")
        return f"Problem 403 {problem.detail!r}; revoked key 401"

    def validation(self) -> str:
        result = catalog_search.sync(client=self.client, body=search_body(limit=0))
        expect_type(result, HTTPValidationError, "limit=0")
        assert isinstance(result, HTTPValidationError)
        expect(bool(result.detail), "422 without detail")
        first = result.detail[0]
        expect_type(first, ValidationError, "422 detail item")
        expect(first.loc == ["body", "limit"], f"422 loc {first.loc}")
        resp = catalog_search.sync_detailed(
            client=self.client, body=CatalogSearchInput.from_dict({"host_name": 7, "limit": 501})
        )
        expect_detailed(resp, 422, "two invalid fields")
        expect_type(resp.parsed, HTTPValidationError, "two invalid fields")
        assert isinstance(resp.parsed, HTTPValidationError)
        locs = sorted(tuple(map(str, error.loc)) for error in resp.parsed.detail)
        expect(
            locs == [("body", "host_name"), ("body", "limit")],
            f"422 should list every error, got {locs}",
        )
        return f"HTTPValidationError {first.loc} {first.type_!r}; both errors listed"

    def unauthenticated_client(self) -> str:
        # The plain Client sends no credentials at all.
        anonymous = Client(base_url=self.base_url)
        resp = catalog_search.sync_detailed(client=anonymous, body=search_body())  # type: ignore[arg-type]
        expect_detailed(resp, 401, "no credentials")
        expect_problem(resp.parsed, 401, "no credentials")
        return "Problem 401"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    checks = Checks(sys.argv[1].rstrip("/"), sys.argv[2])
    plan: list[tuple[str, Callable[[], str]]] = [
        ("catalog_search.sync", checks.sync),
        ("catalog_search.sync_detailed", checks.sync_detailed),
        ("catalog_search.asyncio", checks.asyncio),
        ("catalog_search.asyncio_detailed", checks.asyncio_detailed),
        ("fluent Geopera client", checks.fluent),
        ("estimates", checks.estimate),
        ("401 bad token", checks.unauthenticated),
        ("401 no credentials", checks.unauthenticated_client),
        ("403 missing scope", checks.forbidden),
        ("422 validation", checks.validation),
    ]
    passed = failed = 0
    for name, check in plan:
        try:
            outcome = check()
        except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print(f"FAIL {name}: {error}")
            if not isinstance(error, Failed):
                traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}: {outcome}")
    print(f"python-sdk: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
