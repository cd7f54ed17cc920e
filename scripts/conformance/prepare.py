"""Prepares a running emulator for the schemathesis run and prints the test data it needs.

Usage: prepare.py BASE_URL API_KEY

- Tops up the demo organization by A$10,000,000, so that orders placed by generated requests
  never exhaust its credits (402 is a real answer of the API, but not one the contract lists).
- Prints `NAME=value` lines for the identifiers schemathesis cannot discover on its own: an
  existing order (for `orders.get`), a throwaway key (for `api_keys.revoke`, which answers
  200 for a key that is already revoked, so repeating it is harmless), a catalog scene (for
  `catalog.tile.render`), an event subscription (for `event_subscriptions.get`) and a share
  link's token and password (for `share.link.validate`, `share.tilejson` and
  `share.tile.render`), which nothing in the contract links to.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import httpx


def main() -> int:
    url, key = sys.argv[1], sys.argv[2]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:

        def call(operation: str, body: dict) -> dict:
            response = http.post(f"/v1/op/{operation}", json=body)
            if response.status_code >= 300:
                raise SystemExit(f"{operation}: {response.status_code} {response.text[:300]}")
            return response.json()

        call("billing.topup", {"credits": 1_000_000_000})
        order = call("orders.list", {"page": 0, "size": 1})["content"][0]["orderId"]
        throwaway = call("api_keys.create", {"name": "conformance throwaway", "permissions": []})
        scene = call("catalog.search", {"host_name": "earthsearch-aws", "limit": 1})["features"][0]["id"]
        subscription = call(
            "event_subscriptions.create",
            {"event_type": "order.fulfilled", "endpoint_url": "https://hooks.example.com/geopera"},
        )["id"]
        project = call("projects.create", {"name": "conformance"})
        # Links live at most a year on the emulator's clock, which a record's time shows.
        now = datetime.fromisoformat(project["created_at"].replace("Z", "+00:00"))
        expires = (now + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
        project = project["id"]
        collection = call("collections.create", {"project_id": project, "name": "shared"})["id"]
        password = "conformance password"
        link = call(
            "share.link.create",
            {
                "target_type": "collection",
                "target_id": collection,
                "password": password,
                "expires_at": expires,
            },
        )
    print(f"CONFORMANCE_ORDER_ID={order}")
    print(f"CONFORMANCE_SUBSCRIPTION_ID={subscription}")
    print(f"CONFORMANCE_SHARE_TOKEN={link['token']}")
    print(f"CONFORMANCE_SHARE_PASSWORD={password}")
    print(f"CONFORMANCE_KEY_ID={throwaway['id']}")
    print(f"CONFORMANCE_SCENE_ID={scene}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
