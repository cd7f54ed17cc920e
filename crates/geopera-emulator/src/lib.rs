//! A local, offline emulator of the Geopera API.
//!
//! The emulator is an HTTP server on `127.0.0.1` that answers every operation of the Geopera
//! contract the way the real API does — `POST /v1/op/{operation_id}`, the same authentication,
//! scopes, validation errors, rate limits, idempotency and problem details — over synthetic,
//! deterministic data. The SDK's tests, its examples and CI all run against it.
//!
//! # Starting one from a test
//!
//! [`EmulatorBuilder::start`] binds a free port, runs the server on its own thread and Tokio
//! runtime, and returns once it is listening, so both blocking and async clients can use it.
//! Dropping the [`EmulatorHandle`] shuts the server down.
//!
//! ```
//! use geopera_emulator::{Emulator, RateLimits};
//!
//! let emulator = Emulator::builder()
//!     .seed(7)
//!     .rate_limits(RateLimits::off())
//!     .start()?;
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! assert!(emulator.api_key().starts_with("gpra_"));
//! // POST {base_url}/v1/op/catalog.search with `Authorization: Bearer {api_key}` ...
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Wire behaviour
//!
//! - `POST /v1/op/{id}` for every operation in [`geopera_types::operations::ALL`]; an unknown
//!   id is 404 and another method 405 (with `Allow: POST`), both `application/problem+json`.
//!   `GET /openapi.json` serves the contract when one was given
//!   ([`EmulatorBuilder::spec`]). `GET /assets/...` serves the small files that quicklook and
//!   thumbnail redirects and the catalog's STAC asset links point at, the tiles of a share link (the URL
//!   `share.tilejson` answers, which names the link by a key its password leads to, not by its
//!   token) while the link is live (404 once it is revoked or expired, or its target deleted,
//!   and for a key never issued or a bare token), and the download links of a finished
//!   clip job, of a fulfilled order's deliverables (`orders.list_assets`) and of an item's
//!   `data` asset (`items.asset.download`, and the `href` that `items.list_assets`,
//!   `items.get_stac` and the item searches give it), which are signed
//!   and expire 15 minutes after they were handed out (a changed or stale link is 403, one
//!   whose job, item, item asset (`assets.delete`) or order was deleted since 404; a path with an empty, `.` or `..`
//!   segment names no file, so no second spelling of a signed path skips its signature; a
//!   path under a kind the emulator never links to is 404;
//!   `POST` is answered too, which a client following a quicklook's 307 repeats there, and
//!   other methods are 405 with `Allow`);
//!   `GET /collections/{id}` serves the STAC collection a STAC item's `collection` link names:
//!   a catalog collection to anyone, an organization's (as `stac.collections.list` answers
//!   it) only as that operation would, with the same credentials and scope; likewise
//!   `GET /collections/{id}/items` (a collection's `items` link) answers a page of its items
//!   as `stac.search` limited to it does (a catalog collection's, as `catalog.search` finds
//!   them, for the same credentials), paged by `page` and `limit` with a `next` link
//!   (any other parameter is 400), and `GET /collections/{id}/items/{item}` (the `self` link
//!   of an item in a collection) and `GET /items/{item}` (that of an item in none) answer the
//!   item as `items.get_stac` does;
//!   `PUT /uploads/...` takes the
//!   files of uploads at the URLs `uploads.signed_url` answers. Every other error the emulator
//!   produces is problem+json as well: unknown paths (404), methods a route does not answer
//!   (405, with `Allow`), bad path segments and unreadable bodies such as broken chunked
//!   framing (400), bodies over the limit (413). Only an injected `status=N` fault answers
//!   plain text.
//! - Every call runs authenticate → rate limit → scope → validate → execute. Its body is read
//!   for validation only: a call refused before (an unknown operation, 401, 429, 403) has its
//!   body drained as it arrives, held nowhere, and answered once it has arrived, so that a
//!   client with no credentials cannot take the memory bodies share.
//! - Credentials: `Authorization: Bearer <token>` or `x-api-key: <key>` (Bearer wins). Tokens
//!   are the demo `gpra_` key (every scope), the demo session token, keys from
//!   `api_keys.create` or [`EmulatorHandle::create_key`], and the access tokens of signed-in
//!   sessions ([Signing in](#signing-in-oidc)), which act with their session's grants and
//!   organization. Missing, unknown, revoked or expired credentials are 401 titled
//!   `Unauthenticated`. A key without the operation's scope is 403
//!   `missing scope '<scope>' for '<id>'`; grants match exactly, as `resource:*`, `*:action`
//!   or `*`. Operations whose descriptor says `needs_credentials: false` (only
//!   `webhooks.drain`) skip both checks. A call whose `Origin` names a site other than the
//!   one it was sent to (a web page of another site, which may post plain text unasked) is
//!   403 problem+json before it is counted, as the sign-in forms are: such a page would
//!   otherwise drain webhooks and spend the budget the address's sign-ins draw on.
//! - Bodies are checked against the operation's input shape, including the `date-time` and
//!   `date` string formats (RFC 3339); every failure is listed in a 422
//!   `application/json` `{"detail": [{"loc": ["body", ...], "msg", "type"}]}`. Malformed JSON
//!   is 422 `json_invalid`; a `Content-Type` other than JSON is 422 `model_attributes_type`
//!   (a missing `Content-Type` is read as JSON).
//! - Rate limits ([`RateLimits`]): fixed 60-second windows aligned to the minute of the
//!   emulator's [`ManualClock`] (shorter with [`EmulatorBuilder::rate_window`]), per organization (per client IP without credentials); over
//!   the cap is 429 with `Retry-After` = whole seconds to the window's end. A key minted with
//!   `rate_limit: N` also gets at most N calls per window of its own, whatever the
//!   [`RateLimits`] (the client asked for it), and those N are shared with every key minted
//!   under it, their children included, and with the sessions they sign in with
//!   (`client_credentials`): each of their calls counts against the windows of all the
//!   limited keys it descends from, so a family of keys makes at most N calls per window in
//!   all. The `Retry-After` of a 429 is the end of the window that refused (all of a call's
//!   windows end together). The sign-in endpoints' `token` and `auth/device` requests and
//!   the device page's approvals draw from the same per-client-IP unauthenticated budget as
//!   the operations without credentials; over it they answer 429 `temporarily_unavailable`
//!   (the device page a 429 page), with the same `Retry-After`.
//! - `Idempotency-Key` on operations that are not read-only: per (organization, operation,
//!   key) for 24 hours, a repeat with an equal JSON body replays the stored answer byte for
//!   byte (plus `idempotent-replayed: true`) without executing again; a different body is 409.
//!   Equal means equal values: member order, whitespace and how a number is written (`10`,
//!   `10.0`, `1e1`) do not count; integers are compared digit for digit, never as floats.
//!   A repeat that arrives while the first request is still running (an
//!   `event_subscriptions.test` waiting on its endpoint, say) has no answer to replay yet: it
//!   is 409 ("still being processed") without executing, and a retry once the first has
//!   answered is replayed. A first request that waits on endpoints runs to its end even when
//!   its caller hangs up meanwhile, as the API's would, so its deliveries are made once: a
//!   retry is 409 until it ends and replayed after. One that fails with a server error (a
//!   state file that refused its change) releases the key, so a retry runs again.
//!   Only the principal that made the first request is replayed to — the same API key (also
//!   through `client_credentials` sessions) or the same user (across token refreshes) — as
//!   the answer may hold what only it may see, such as a minted key's secret; another
//!   credential of the organization sending the key is 409.
//! - `X-Request-Id` ([`REQUEST_ID_HEADER`]) is echoed on every answer of every route — success,
//!   problem, 422, 429, injected fault, unknown path; for `/v1/op/{id}` it is also in the
//!   request's log line and in [`RecordedRequest::request_id`], so the attempts of a retried
//!   call can be matched. An id that is missing, empty, longer than [`MAX_REQUEST_ID_CHARS`]
//!   or not visible ASCII is replaced by a generated `req_...` id.
//! - `catalog.image.quicklook` / `.thumbnail` answer 307 with a `Location` on the emulator,
//!   which serves a picture there (PNG, or JPEG for `.jpg` / `.jpeg` names).
//! - Tiles, thumbnails and COG renders (`catalog.tile.render`, `cog.tile.render`,
//!   `cog.tile.terrain`, `cog.thumbnail`, `items.tile.render`, `items.tile.wmts_get_tile`,
//!   `share.tile.render`) answer real images, as the API does although the contract says
//!   JSON: 256×256 pictures (`cog.thumbnail`: its `width` × `height`, each clamped to
//!   1..=512) drawn from the seed and the request, the same bytes for the same request. A
//!   `format` of `jpeg` or `jpg` gets `image/jpeg`, any other `image/png`; terrain tiles
//!   are terrain-RGB PNGs. A tile off the grid (`z` above 30, `x` or `y` outside `0..2^z`)
//!   is 422 at that field, and `catalog.tile.render` of a scene the catalog
//!   does not hold is 404; its `aoi_clip_body`, when given, is held to a clip job's area
//!   rule (see **Jobs**), else 422 at `aoi_clip_body`, though the picture is drawn alike.
//!   `analytics.band_math` and `analytics.calculate_index` answer such a 256×256 PNG when
//!   their `output_format` is `png` (in any case; `max_size` aside), drawn from the COG and
//!   the formula or index, and a sample of their statistics otherwise.
//!   `items.tile.wmts_capabilities` answers a WMTS 1.0.0 Capabilities document
//!   (`application/xml`) with the item as its layer on `WebMercatorQuad`; given the
//!   emulator's own URL as `base_url`, its tile template leads to `GET /wmts/...` here, which
//!   serves the picture `items.tile.wmts_get_tile` answers for that tile (to anyone, like the
//!   other asset tiles: the template's `key` is not checked).
//!
//! # Security and limits
//!
//! The emulator usually serves one test on loopback, but it is also run as a long-lived
//! local server, so it refuses what would let a client widen its own access or exhaust the
//! process:
//!
//! - No grant escalation: `api_keys.create` grants only what the calling credential covers
//!   itself, read as patterns (`orders:*` may grant `orders:read` or `orders:*`, never
//!   `*:read` or `*`); anything wider is 403 problem+json naming the grant. Without
//!   `permissions` the new key gets the caller's grants. A key (or a session it signed in
//!   with) that has a `rate_limit` or an expiry mints no key with a higher limit or a later
//!   expiry (403, naming each), and a key it mints without them gets its own: a limit set on
//!   a key is not shed by minting a child. Nor is it multiplied by minting many: the keys
//!   minted under a key limited to N, at any depth, share its N calls a minute (see rate
//!   limits above), across restarts with a state file too. A key's calls count against at
//!   most [`MAX_KEY_RATE_WINDOWS`] windows, one for each limit in its line lower than
//!   those above it; a key whose lower limit would need one more is 403, while one asking
//!   for the tightest limit already held needs none. Revoking a key does not revoke keys it minted,
//!   and they go on counting against its window. Keys kept in a state file written before
//!   families were tracked count as minted under no one.
//! - No lock-out from below: `api_keys.revoke` revokes only a key whose every grant the
//!   calling credential covers (a key may revoke itself); a key holding more is 403
//!   problem+json naming the grants, and stays valid.
//! - A person approves credit purchases: `billing.approvals.approve`, which the API reserves
//!   for a human approver, is 403 problem+json for an API key and for a session started with
//!   one (`client_credentials`); a user's session (password or device login, or the demo
//!   session token) may approve. Approving charges the organization's default payment method
//!   (the first attached, or the one `payment_methods.set_default` chose), so without one it
//!   is 402 problem+json and the approval stays pending. Requesting and rejecting are open to
//!   any `billing:write` credential.
//! - Unguessable keys: the secret of a key minted by `api_keys.create` or
//!   [`EmulatorHandle::create_key`] is 16 bytes from the operating system's generator, as are
//!   share tokens, upload tokens, signing secrets and session tokens. Only the demo key and
//!   the demo session token follow from the seed (so a restarted emulator prints the same
//!   ones); ids do too, and the seeded generator's state can be worked out from one id, so
//!   nothing that authenticates is drawn from it.
//! - Known names only: a request is answered when its `Host` is an IP address, `localhost`
//!   or a name under `.localhost`, or a name given to [`EmulatorBuilder::allowed_host`]
//!   (`--allowed-host`); any other is 403 problem+json. A web page that points a name of its
//!   own at this machine (DNS rebinding) would otherwise call the emulator as its own origin,
//!   signing in with a published demo password or calling with the demo key. A target in
//!   absolute form (`GET http://name/...`) names the host as well, as HTTP/2's `:authority`
//!   does, and is held to the same rule along with any `Host`. A `Host` of bytes other than
//!   visible ASCII, or more than one `Host`, is 400 problem+json.
//! - No unknown scopes: a permission must be an operation's scope, its `resource:*` or
//!   `*:action` form, or `*`; otherwise 422 at `["body", "permissions", i]`.
//! - Bounded keys: at most [`MAX_KEY_PERMISSIONS`] (64) permissions of at most
//!   [`MAX_SCOPE_CHARS`] (64) characters, `expires_in_days` from 1 to
//!   [`MAX_KEY_LIFETIME_DAYS`] (3650), `rate_limit` from 1 to [`MAX_KEY_RATE_LIMIT`]
//!   (1,000,000 per minute), `name` 1 to 200 characters (the contract's bound); any
//!   other value is 422. At most [`MAX_KEYS_PER_ORG`] (1,000) keys per organization: at the
//!   bound the oldest revoked or expired one makes room, and with none, minting is 422.
//!   [`EmulatorHandle::create_key`] is the test's own way in; only that bound holds for it.
//! - Fault headers act only once the caller is known (authenticated, or the address of a
//!   call that needs no credentials) and throttle only that caller's organization (see
//!   [Faults](#faults)).
//! - One log line per request: the access log names a known operation by its id and an
//!   unknown one escaped (`\r`, `\n`, `\u{1b}`) and cut to its first 64 characters, so a
//!   path cannot write a line of its own or a terminal escape into the log.
//! - No credentials at rest in memory: recorded requests show `Authorization`,
//!   `Proxy-Authorization` and `x-api-key` as `[redacted]`;
//!   [`RecordedRequest::header_is`] checks them against a keyed hash.
//!
//! The caps, their defaults and how to change them:
//!
//! | cap | default | builder | `geopera-emulator` flag |
//! |---|---|---|---|
//! | request body; larger is 413 | [`DEFAULT_BODY_LIMIT`], 2 MiB | [`body_limit`](EmulatorBuilder::body_limit) | `--body-limit BYTES` |
//! | bytes of request bodies held while they arrive (operations and control), across every connection and HTTP/2 stream; a body that would pass it is 503 with `Retry-After: 1` (problem+json) | [`BODIES_HELD_AT_ONCE`] (64) times the body limit, 128 MiB | through the body limit | — |
//! | bytes of sign-in forms held while they arrive, a budget of their own since a form is read before anyone is known; one that would pass it is 503 `temporarily_unavailable` with `Retry-After: 1` | the same as operations', 128 MiB (8,192 forms of 16 KiB) | through the body limit | — |
//! | time to send a request head | [`DEFAULT_HEADER_READ_TIMEOUT`], 10 s | [`header_read_timeout`](EmulatorBuilder::header_read_timeout) | `--header-read-timeout 10s` |
//! | time with no request in progress, or with an answer of which the client takes no byte (then the connection is reset) | [`DEFAULT_IDLE_TIMEOUT`], 60 s | [`idle_timeout`](EmulatorBuilder::idle_timeout) | `--idle-timeout 60s` |
//! | connections served at once; more wait in the listen backlog until one closes | [`DEFAULT_MAX_CONNECTIONS`], 10,000 | [`max_connections`](EmulatorBuilder::max_connections) | `--max-connections N` |
//! | recorded requests | [`DEFAULT_RECORD_LIMIT`], 1,000 | [`record_limit`](EmulatorBuilder::record_limit) | — |
//! | bytes of recorded headers and bodies | [`DEFAULT_RECORD_BUDGET_BYTES`], 16 MiB | [`record_budget`](EmulatorBuilder::record_budget) | — |
//! | sign-in form body; larger is 413 | 16 KiB (or the body limit, if smaller) | — | — |
//! | live sessions; more is 503 `temporarily_unavailable` | [`MAX_SESSIONS`], 10,000 | — | — |
//! | sessions per principal; more ends the oldest | [`MAX_SESSIONS_PER_PRINCIPAL`], 100 | — | — |
//! | live access tokens per session; more retires the oldest | [`MAX_ACCESS_TOKENS_PER_SESSION`], 8 | — | — |
//! | device logins waiting; more is 503 `temporarily_unavailable` | [`MAX_PENDING_DEVICE_LOGINS`], 1,000 | — | — |
//! | device logins waiting that one client IP started; more is 503 `temporarily_unavailable` | [`MAX_PENDING_DEVICE_LOGINS_PER_CLIENT`], 100 | — | — |
//! | event subscriptions per organization; more is 422 | 100 | — | — |
//! | webhook deliveries waiting; more drops the oldest of the organization with the most waiting | 10,000 | — | — |
//! | one webhook delivery attempt | 5 s | — | — |
//! | a request body (an operation's, an upload `PUT`) sending nothing; longer is 408 | [`BODY_IDLE_TIMEOUT`], 30 s | — | — |
//! | a whole request body, but an upload `PUT`'s, from when it is first read (at once for sign-in and control routes; for an operation, once its caller is authenticated and any injected latency has passed); longer is 408 for an operation, a failed body for sign-in and control routes | [`BODY_DEADLINE`], 60 s | — | — |
//! | a whole upload `PUT` body, from the request's start; longer is 408 | [`UPLOAD_PUT_MIN_SECS`], 60 s, plus 1 s per [`UPLOAD_PUT_MIN_BYTES_PER_SEC`] (64 KiB) of its `Content-Length` (else of the room left in the upload) | — | — |
//! | webhook attempts before giving up | 8 | — | — |
//! | records of one family per organization (projects, jobs, uploads, ...); more is 422, but for share links, approvals and uploads, of which the oldest revoked or expired link, decided or expired approval, or failed upload makes room, and for notification marks, of which the oldest notifications' make room (`mark_all_read` keeps one record per caller, however many it reads) | 10,000 | — | — |
//! | source ids one `catalog.federated_search` names that the catalog does not know; more is 422 at `source_ids` | 100 | — | — |
//! | what a fault header's latency or slow body holds a call without credentials (`webhooks.drain`) | 10 s | — | — |
//! | bytes an organization stores as JSON (records, orders, keys, subscriptions, answers kept for idempotency keys); past it, a request that changes state with a body over [`SMALL_BODY_BYTES`] (4 KiB) is 409, and so is `items.duplicate` of an item larger than that, so deleting, cancelling and revoking go on (and make room for larger requests a second later); an answer over 4 KiB to a request with an `Idempotency-Key` is not kept then, and a retry under that key is answered 410 (the request ran) | [`MAX_STORED_BYTES_PER_ORG`], 64 MiB | — | — |
//! | objects and arrays nested in a request body's JSON; deeper is 422 `json_invalid` | [`MAX_BODY_DEPTH`], 64 | — | — |
//! | an error's message (quoting an id or a header the request sent) | [`MAX_MESSAGE_BYTES`], 1 KiB: longer keeps its start and end | — | — |
//! | storage per organization: open upload reservations plus completed uploads; more is 402 | [`STORAGE_QUOTA_BYTES`], 10 GiB | — | — |
//! | one upload's declared size, and so one signed-URL `PUT` body; larger is 422 / 413 | [`MAX_UPLOAD_BYTES`], 5 GiB | — | — |
//! | an open upload without activity (initiated, a URL signed, a file arrived, a progress report that changes it); longer fails it as `expired`, releasing its reservation | [`UPLOAD_IDLE_SECS`], 24 h | — | — |
//!
//! The header-read timeout runs from a connection's start and, on HTTP/1.1, again from each
//! answer until the next request head is complete, so it is also how long an idle HTTP/1.1
//! keep-alive connection stays open; the idle timeout is what ends idle HTTP/2 connections.
//! A request counts as in progress until its answer is fully sent, and a connection still
//! writing an answer to a slow reader is not idle, so injected latency, slow bodies and
//! large answers are never cut short. HTTP/2 connections are pinged every 30 s and closed when
//! a ping goes unanswered for 20 s. Request bodies are recorded only with
//! [`record_bodies(true)`](EmulatorBuilder::record_bodies). When the process runs out of file
//! descriptors, the accept loop retries every 50 ms instead of spinning, logs once, and
//! resumes when descriptors free up; waiting connections stay in the listen backlog. At the
//! connection cap it stops accepting in the same way, logs once, and takes the next waiting
//! connection as soon as one closes: a client that opens thousands of idle connections
//! holds at most that many, each until its timeouts. The `geopera-emulator` binary raises its
//! open-file limit as far as the cap and 256 descriptors of its own need, and where the hard
//! limit has no room, lowers the cap to fit and says so, so that connections can never take
//! the descriptors its state file and webhook deliveries need (deliveries keep no idle
//! connection, so they hold a descriptor only while they run); a process embedding the
//! library keeps its own limits, and a cap that fits them is its to choose.
//!
//! Not covered: a request hyper cannot parse at all (a broken request line, say) gets
//! hyper's own 400 with an empty body; the number of keys and idempotency claims is bounded
//! only by the rate limits; with rate limits off, the sign-in endpoints are bounded only by
//! the caps on their state, above.
//!
//! # Signing in (OIDC)
//!
//! The emulator is also the API's identity provider, with the endpoints of the `public`
//! realm. `{base}` is the base URL; `{oidc}` is `{base}/realms/public/protocol/openid-connect`.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET {base}/realms/public/.well-known/openid-configuration` | discovery; URLs built from the request's `Host` |
//! | `POST {oidc}/token` | grants `password`, `client_credentials`, `refresh_token`, `urn:ietf:params:oauth:grant-type:device_code` |
//! | `POST {oidc}/auth/device` | starts a device login (RFC 8628); PKCE `S256` required |
//! | `GET` or `POST {oidc}/userinfo` | who a token is: session access token or API key, as Bearer or `x-api-key` |
//! | `POST {oidc}/logout` | `refresh_token`: ends its session (204); unknown token (a rotated-away one too) or another client's 400 `invalid_grant` |
//! | `POST {oidc}/revoke` | RFC 7009 `token`: a refresh token (the session's current one, whole) ends its session, an access token only itself; 200, also for an unknown token; a token issued to another client (for `geopera`, to another API key) is 400 `unauthorized_client` and stays valid |
//! | `GET {oidc}/certs` | the JWKS: empty, tokens are opaque |
//! | `GET` / `POST {base}/realms/public/device` | the verification page: user code (prefilled from `?user_code=`; a query the form's rules refuse is a 400 page) plus a user's password, Approve or Deny |
//!
//! Requests are `application/x-www-form-urlencoded`; a parameter sent twice is refused, an
//! empty one counts as absent, and a name or value whose bytes are not UTF-8 once
//! percent-decoded is 400 `invalid_request` (in HTTP Basic credentials, 401
//! `invalid_client`), never read with U+FFFD in their place. Every answer with a body, errors
//! included, is JSON with `Cache-Control: no-store` (a sign-out's 204 and a revocation's 200
//! have none, and nothing to keep from a cache); errors are OAuth's `{"error", "error_description"}`, never
//! problem+json: 400 `invalid_request`, `invalid_grant`, `invalid_scope`,
//! `unauthorized_client`, `unsupported_grant_type` and the device polling errors; 401
//! `invalid_client` (with `WWW-Authenticate: Basic`) and, at userinfo, `invalid_token` (with
//! `WWW-Authenticate: Bearer`); 405 with `Allow`; 413 for a form over 16 KiB; 503
//! `temporarily_unavailable` at the caps above. These paths are not part of the contract, so
//! `GET /openapi.json` does not list them. Sign-in requests are neither recorded
//! ([`EmulatorHandle::requests`]) nor logged with their bodies.
//!
//! Clients:
//!
//! - `geopera-cli` ([`PUBLIC_CLIENT`]), public, no secret: `password`, `refresh_token` and
//!   the device flow.
//! - `geopera` ([`KEY_CLIENT`]): only `client_credentials`, with a `gpra_` API key as
//!   `client_secret` (in the form or HTTP Basic). The session acts as that key: its
//!   organization, grants and own rate limit, principal type `api_key`. It gets no refresh
//!   token (`refresh_expires_in: 0`), as Keycloak does by default: ask for a new token with
//!   the key instead. A key with an expiry caps its tokens' `expires_in` at the seconds it
//!   has left, and its tokens are 401 (on the API and `userinfo`) once it has expired.
//!
//! A token answer is `{access_token, token_type: "Bearer", expires_in: 300, refresh_token,
//! refresh_expires_in: 1800, scope}`. Without `scope` the session gets `openid profile` and
//! every grant of its principal; permission words in `scope` (`orders:read`, `catalog:*`,
//! `*`) narrow the session to them (each must be covered by what the principal holds, else
//! `invalid_scope`), and `openid`, `profile`, `email`, `offline_access` pass through.
//!
//! Lifetimes run on the emulator's [`ManualClock`], like everything else: an access token is
//! accepted for [`ACCESS_TOKEN_SECS`] (300 s), a refresh token for [`REFRESH_TOKEN_SECS`]
//! (1,800 s) from its issue, and each refresh issues a new one with the full 1,800 s. Refresh
//! tokens rotate on every use: the presented one stops working, and presenting it again is
//! `invalid_grant` and ends the whole session, so its newest refresh token and its access
//! tokens stop working too (a session remembers the last 64 it rotated away; one made up from
//! the part every token of the session shares is `invalid_grant` and ends nothing). Access
//! tokens issued earlier stay valid until they expire. A refresh token is bound to the client
//! it was issued to.
//!
//! Device flow: `auth/device` takes `client_id=geopera-cli`, an optional `scope`, and
//! `code_challenge` with `code_challenge_method=S256` (both required), and answers
//! `device_code`, `user_code` (like `WDJB-MJHT`), `verification_uri`
//! (`{base}/realms/public/device`), `verification_uri_complete` (with `?user_code=`),
//! `expires_in: 600` and `interval: 5`. Polling the token endpoint with `device_code` and
//! `code_verifier` answers `authorization_pending` until a user approves,
//! `slow_down` (and 5 s more interval) when polled sooner than the interval after the
//! previous poll, `access_denied` once denied, `expired_token` after 600 s, and
//! `invalid_grant` when the verifier does not match (which also ends the login). A device
//! code signs in once.
//!
//! Users sign in with `password` and approve device logins: by default `admin` /
//! `admin-password` with every scope and `viewer` / `viewer-password` with `*:read`, both of
//! [`DEMO_ORG`] ([`demo_users`]); the builder's [`user`](EmulatorBuilder::user) and
//! [`users`](EmulatorBuilder::users) add or replace them. Their subject is `usr_<username>`.
//! `userinfo` answers `sub`, `geopera_principal_type` (`user` or `api_key`),
//! `geopera_principal_id`, `geopera_org_id`, `scope` (the session's scope; a key's grants),
//! `geopera_permissions` and, for users, `preferred_username`.
//!
//! Tokens are opaque: random strings from the operating system's generator (32 bytes for
//! access tokens; a refresh token is a 16-byte session key and a 32-byte secret, joined by a
//! dot), kept only as SHA-256 digests. The official CLI never decodes a token, and opaque
//! tokens can be revoked at once, which JWTs checked offline cannot. Passwords and PKCE
//! challenges are compared in constant time.
//!
//! ## Control endpoints
//!
//! Off unless [`EmulatorBuilder::control`] or `--control` turns them on; then, under
//! [`CONTROL_PREFIX`], with JSON bodies and problem+json errors. A `POST` must send
//! `Content-Type: application/json` (without one, or with another type, it is 415), and a
//! request with an `Origin` header other than the emulator's own
//! ([`EmulatorHandle::base_url`]) is 403, so a web page of another site cannot send them
//! from a browser (such a page may send a `POST` without `Content-Type` unasked, never one
//! with JSON):
//!
//! | request | answer |
//! |---|---|
//! | `GET /_emulator/clock` | `{"unix_seconds", "unix_millis"}` |
//! | `POST /_emulator/clock` `{"advance_seconds": N}` (up to ten years) or `{"set_unix_seconds": T}` | the new reading, written to the state file (if any) before it is answered (503 when it cannot be); 422 for a reading before 1970 or after 9899-12-31T23:59:59Z (a century is left for the lifetimes added to it) |
//! | `POST /_emulator/device/approve` `{"user_code", "username"?}` (default `admin`) | `{"user_code", "state": "approved"}`; 404 when no login waits for it |
//! | `POST /_emulator/device/deny` `{"user_code"}` | `{"user_code", "state": "denied"}`; 404 likewise |
//! | `GET /_emulator/oidc/counters` | [`OidcCounters`] plus `live_sessions` and `pending_device_logins` |
//!
//! From a test in the same process, the handle does the same:
//! [`EmulatorHandle::clock`], [`EmulatorHandle::approve_device`],
//! [`EmulatorHandle::deny_device`] and [`EmulatorHandle::oidc_counters`].
//!
//! # Data
//!
//! Everything derives from the seed. The catalog holds 10,500 STAC items over
//! `sentinel-2-l2a`, `landsat-c2-l2`, `sentinel-1-grd` and the commercial
//! `geopera-vhr-archive` (priced per km² in `properties["geopera:price"]`), acquired
//! 2023-01-01..2024-12-31 all over the globe. `catalog.search` takes `host_name`
//! (`earthsearch-aws` serves the open collections, `geopera-commercial` the commercial one,
//! any other host all four), `collections`, `ids`, `bbox` (4 or 6 numbers; latitudes within
//! ±90 and longitudes within ±180, else 422 at `bbox`; a west edge east of the east edge
//! crosses the antimeridian), `intersects` (a GeoJSON geometry held to the rule of an item's
//! `geometry` below, every position within ±180 / ±90, else 422 at `intersects`; matched by
//! the bounding box of each of its parts: each position, line or polygon of a MultiPoint,
//! MultiLineString or MultiPolygon, each member of a GeometryCollection, or one box around
//! them all past 1,000 parts. So a geometry cut in two at the antimeridian, as RFC 7946
//! advises, matches items on either side and not the globe between; an edge left uncut, from
//! 170 to -170, is a straight line in longitude and latitude as GeoJSON draws it, the long
//! way round. With a `bbox` as well it is 422 at both, as STAC API item search takes one or
//! the other, and so are `catalog.search_stream` and `catalog.federated_search`),
//! `datetime` (an RFC 3339 date-time or a `YYYY-MM-DD` date at midnight UTC, read as the
//! validator reads them, or `start/end` of those with `..` or empty for an open end), `query`
//! on `eo:cloud_cover` (`GT`, `GTE`, `LT`, `LTE`), `limit` (1..500) and `next`; pages come
//! newest first and the last page has no `next`. A `next` token continues only the search it
//! came from (every member but `next` and `limit`, in any key order); with other filters it
//! is a 422 at `next`, as a forged one is. `catalog.search_stream` answers the same matches
//! as NDJSON, from the page a `next` token names when it is given one.
//!
//! Orders are priced from area and product (100 credits = A$1; open data costs A$0.001/km² to
//! deliver, commercial captures their price per km² with a 25 km² minimum, tasking A$6–14/km²).
//! An area to task or order (the `featureCollection` of `orders.place`, `orders.estimate` and
//! the tasking checks, a tasking group's geometry) is Polygons or MultiPolygons on the globe,
//! measured by what their outer rings enclose less their holes, so a ring elsewhere or a ring
//! that crosses itself cannot shrink it; anything else is 422 (a tasking estimate lists it
//! among its `errors`). One tasking request covers at most 10,000 km².
//! Placed orders advance with the clock: archive `received` → `processing` (30 s) →
//! `fulfilled` (5 min); tasking `received` → `feasibility` (1 min) → `accepted` (10 min) →
//! `fulfilled` (1 h). Each organization starts with 500,000 credits and [`HISTORICAL_ORDERS`] finished orders
//! (`orders.list`, `page`/`size`, answers `{content, page, size, totalElements, totalPages}`;
//! `orderIds`, `tags` and `dataProductIds` filter by comma-separated lists, `displayName` by
//! a case-blind substring, `workspaceId` by the workspace an order's body named; `sort` is
//! `field,asc|desc` over `createdAt`, `updatedAt`, `displayName`, `status`, `type`,
//! `totalCredits`; as the contract takes any text there, another field sorts by `createdAt`
//! and another direction is upward). Accepting a tasking quotation dearer than the price
//! paid charges the difference, 402 when the balance falls short.
//! An organization holds at most [`MAX_ORDERS_PER_ORG`] orders: past it, a new order retires
//! the oldest fulfilled or cancelled one (409 when none has ended).
//! With auto top-up on (`billing.set_auto_topup`), a charge that leaves the balance below the
//! threshold buys the top-up amount at once, unless the day's auto top-ups (UTC) would pass
//! `daily_charge_cap_aud`; each is an `auto_topup` transaction with its invoice.
//!
//! **Paying.** Buying credits charges the organization's default payment method, as the
//! API's payment provider does: `billing.topup`, every automatic top-up and an approved
//! credit purchase. The default is the first method `payment_methods.attach` attached, or
//! the one `payment_methods.set_default` chose; detaching it leaves none. The demo
//! organization ([`DEMO_ORG`]) starts with a default card, `pm_demo_visa`, so top-ups work
//! from the first request; any other organization starts with none, as a new customer does
//! (and the demo organization of a state file written before the card existed has none).
//! Without a default card `billing.topup` is 402 problem+json whose detail begins "attach a
//! payment method first", and nothing is charged, recorded or invoiced (an
//! `Idempotency-Key` keeps that 402, so a retry with the same key is answered it again: a new
//! key is a new purchase). So is `billing.set_auto_topup` turning auto top-up on, which keeps
//! the old setting; turning it off always works. Detaching the default card while auto
//! top-up is on is allowed (a card is its owner's to take away): the setting stays on, as
//! `billing.auto_topup.get` shows, but buys nothing until the organization has a default
//! card again, so a charge may leave the balance low.
//!
//! `items.list` (`limit`/`offset`) answers `{items, total, limit, offset}`.
//! The contract bounds none of these paging numbers, so out-of-range ones are clamped
//! (pages of 1 to 1,000, no negative page or offset) rather than refused.
//! `stac.search` pages by `page` (from 1) and `limit`, which the contract bounds: a page holds
//! up to its maximum of 10,000 features, as many as asked for.
//! Item searches (`items.search`, `items.search_org`, `stac.search`) answer in creation order,
//! or by `sortby` on `datetime` (as instants; items without one last, either way) or
//! `created`, `desc` turning a clause around and later clauses breaking ties. A `datetime`
//! interval that ends before it starts is 422 at `datetime` there, as in `catalog.search`,
//! and a `bbox` is read as `catalog.search` reads it, across the antimeridian included;
//! `stac.search` given both a `bbox` and an `intersects` is 422 at both, as `catalog.search`
//! is, and reads `intersects` as `catalog.search` reads it.
//! `items.create` and `items.update` hold an item's `bbox` to the same rule, and its
//! `geometry` to GeoJSON's: a Point, MultiPoint, LineString, MultiLineString, Polygon (closed
//! rings of four positions or more), MultiPolygon or GeometryCollection, every position within
//! ±180 / ±90; anything else is 422 at that field.
//!
//! Projects (with members), collections, items, band formulas, alert rules and events,
//! visualization profiles, share links, tasking templates, payment methods, credit approvals
//! and the credit ledger are kept per organization: created, read, listed in creation order,
//! changed and deleted, and another organization's ids are 404. Each organization also starts
//! with a "Default project" of three collections and [`STARTER_ITEMS`] items
//! ([`EmulatorHandle::default_project`] names it), so item paging can be exercised at once.
//! The ledger lists an organization's newest [`MAX_TRANSACTIONS`] entries; `usage.*` and the
//! auto top-up's daily cap still count the older ones, from sums kept of the months
//! `usage.history` can answer and of the day's auto top-ups.
//! A person's role in a project (`projects.add_member`) holds them to what the contract allows
//! it: a `viewer` is 403 on the operations it marks "editor/admin" (creating, changing and
//! deleting items, their assets and collections, duplicating items, starting, sending to,
//! reporting on, completing and failing uploads, visualization profiles, creating and
//! revoking share links; naming an asset's bands, which the contract leaves to any "project
//! member", is a viewer's too), and deleting a collection, changing the project's own metadata
//! (`projects.update`, which the contract marks "admin/owner"), archiving or deleting it and
//! managing its members need an `admin`. Alert events are kept up to [`MAX_ALERT_EVENTS`] an
//! organization, the oldest giving way. Keys act for the
//! organization, their scopes deciding, and a person who is no member of the project keeps
//! the organization's access.
//! Event subscriptions are kept too ([Webhooks](#webhooks)), and so are jobs and uploads
//! (below); image operations answer pictures. Which operations keep state, which derive
//! their answer and which answer a deterministic sample of their output shape is listed
//! under [Operations](#operations).
//!
//! **Jobs.** `processing.*` and `clip.*` jobs are kept per organization (another
//! organization's id, project or `organization_id` is 404). Their status is worked out from
//! the clock whenever they are read, so it needs no background work and carries on across a
//! restart: from its start a job is `pending` for [`JOB_QUEUED_SECS`] (5 s), `running` until
//! [`JOB_RUN_SECS`] (60 s), then `succeeded` — or `failed` when its process id, job type,
//! item id or area is [`JOB_FAIL_MARKER`] (`emulator-fail`), the way to reach the failure path
//! on purpose. `processing.create` makes a job that stays `pending` until
//! `processing.dispatch` (once; again is 409); `processing.create_and_dispatch`,
//! `processing.execute` (`workspaceId` is the project) and `clip.create_from_item` /
//! `create_from_area` start at once. A new clip job answers `{"job": {"id", "status"},
//! "assets_to_clip", "asset_keys"}` (the item's `asset_keys`, default `["data"]`, or the
//! area's `mosaic_types`). A clip's `aoi_geometry` (required for an area, optional for an
//! item) is an area, as an area to order is: a Polygon or MultiPolygon on the globe, or a
//! Feature or FeatureCollection of them, since a point or a line has nothing inside to keep;
//! anything else is 422 at `aoi_geometry`. Downloads, tile info and output registration
//! exist once a job has `succeeded`; before that they are 409 naming the status. Downloads
//! are JSON descriptors whose URLs on the emulator are signed and expire after 15 minutes (a
//! changed or stale one is 403), never bytes. `processing.jobs.list` pages by
//! `page`/`limit`, newest first by default; `processing.project_jobs.list` and
//! `clip.jobs.list` by `limit`/`offset`, oldest first.
//!
//! **Uploads.** `uploads.initiate` reserves the declared `total_bytes` (at most
//! [`MAX_UPLOAD_BYTES`], 5 GiB) from the organization's [`STORAGE_QUOTA_BYTES`] (10 GiB,
//! counting open reservations and completed uploads); what does not fit is 402. An upload
//! takes at most 1,000 files, so a `file_count` above that, which could never complete, is
//! 422. It takes no more distinct file names than its `file_count`: `uploads.signed_url`
//! for a name beyond them is 409 naming the count (a name it already has may be signed
//! again), and nothing is signed or kept for it.
//! `uploads.signed_url` answers an `upload_url` on the emulator that takes the file by `PUT`
//! for [`UPLOAD_URL_SECS`] (15 minutes), up to the `expires_at` it answers: like a download
//! link's, that is the second it was handed out in (on the emulator's clock) plus its
//! lifetime, and from that instant on the URL is refused. The body is streamed, counted and hashed, never
//! kept, so the request body limit does not apply to it, and the first byte beyond the
//! upload's declared size is 413; a wrong or expired token is 403, and so is an unknown
//! upload id, alike, so the answer does not tell which uploads exist. The URL is checked as
//! the PUT starts, as a storage service checks one, so a PUT begun in time is kept though the
//! URL expires while its bytes arrive; the upload must still be open once they have (409).
//! `uploads.complete` needs exactly the declared bytes to have arrived (409 otherwise) and
//! turns the reservation into used storage; `uploads.fail` releases it. After either, every
//! change is 409 and the upload's URLs stop working; a `uploads.progress` that reports nothing
//! changes nothing, so it reads the upload in any state. Each answer carries the
//! organization's `storage` (`quota_bytes`, `reserved_bytes`, `used_bytes`, `free_bytes`).
//! `projects.delete` fails the project's open uploads and deletes its completed ones, whose
//! bytes it answers as `storage_freed_bytes` and which no longer count against the quota,
//! across a restart too; its failed uploads stay.
//! An open upload whose client went away would otherwise hold its reservation for ever, so
//! one with no activity for [`UPLOAD_IDLE_SECS`] (24 hours on the emulator's clock; activity
//! is its initiation, a URL signed, a file arriving, or a progress report that changes it)
//! expires: it is `failed` with `error_step` `expired`, its reservation is released, its URLs
//! stop working, every change is 409 from then on, and subscribers get the `upload.failed`
//! event `uploads.fail` sends. Like a job's status this follows the clock, with no
//! background work: the upload is expired, stamped with the instant it expired, as soon as
//! anything reads it, its organization's storage or the webhook outbox, so `uploads.initiate`
//! counts its bytes as free at once, and an upload kept in a state file expires after a
//! restart just as it would have without one.
//!
//! **Notifications.** `notifications.*` are rebuilt on each call from what the records say
//! (orders fulfilled or cancelled, jobs finished, uploads completed or failed), newest first,
//! so a notification goes when what it tells of goes (an order retired to make room for new
//! ones, an upload deleted with its project). Only the read and dismissed marks are kept, one
//! record per notification and caller (each key or user has its own inbox: what one reads
//! stays unread for the others), and for `mark_all_read` one record per caller of the moment
//! before which everything reads as read, within the bound of records per family; once it
//! is reached, the marks of notifications no longer there go, then those of the oldest
//! notifications, which read unread (and undismissed) again, and last the records of callers
//! written longest ago. A call costs what the organization holds, not the square of it.
//!
//! Everything lives in memory unless [`EmulatorBuilder::state_file`] (`--state FILE`) names a
//! SQLite file: then orders, keys (with their revocations; the SHA-256 digest of each secret,
//! never the secret, which is shown once when the key is made), balances, projects and the other
//! records users create (jobs and uploads among them), event subscriptions (with the signing
//! secrets they sign with), webhook deliveries still waiting, answered idempotency claims
//! (organization, operation, key, who made the request, a SHA-256 fingerprint of the body and
//! the stored answer; claims from files that did not keep who made them replay to no one) and
//! signed-in sessions (token digests only) are written to it after every successful operation
//! that is not read-only (or that, like `alerts.test_rule`, records something under a read
//! scope), every answer to a request with an `Idempotency-Key` and every sign-in request that
//! changed a session, once more when the emulator shuts down (the binary on Ctrl-C, and on Unix
//! on SIGTERM), and read back on the next start with the same seed. The file also keeps the
//! emulator's time: a clock resumes no earlier than its last reading (a frozen one where it
//! stopped, one that follows the wall clock but was moved ahead at least there), so what was
//! fulfilled or finished stays so. Device logins still waiting and
//! the sign-in counters are not kept. So a retry after a restart is replayed, not charged
//! again, until 24 hours on the emulator's clock have passed since the key was claimed.
//! Rate-limit windows and recorded requests are not kept. Files written by older versions of
//! the emulator open and are upgraded in place; a file from a newer version is refused. The
//! emulator marks its files with SQLite's `application_id`; a database of another application
//! (another id, or no id and tables that are not the emulator's) is refused before anything in
//! it is changed, as is a file of another seed or a damaged one (SQLite's `quick_check`; one
//! of the emulator's tables gone; rows without the `meta` row naming the seed). A record whose
//! numbers are out of range (an order's times too, beyond the years 0 to 9999), of a kind no
//! emulator writes, or whose JSON is not JSON (a file edited by hand, or damaged) is refused
//! with an error naming the file and the record; an answered idempotency claim stamped at a
//! time out of range is skipped, so its retry runs again.
//!
//! A new state file is created readable and writable by its owner only, wherever a symbolic
//! link names it, as it holds the signing secrets of event subscriptions (which the emulator
//! needs to sign with) and the answers replayed to idempotent retries; an existing file keeps
//! its mode. Files of versions that kept API keys in clear have them replaced by their digests
//! when they are upgraded. One emulator at a time uses a file: another that names it refuses to start ("in use by
//! another process"), as two would hand out the same ids from the same seed and overwrite each
//! other's rows. The lock is held on an empty file beside it (its name plus `-lock`), which
//! stays after the emulator stops; programs that only read the state file, such as `sqlite3`,
//! are not kept out. A symbolic link to the file shares that lock, but a hard link is another
//! name with a lock of its own (and SQLite keeps its journal beside the name too), so on Unix
//! a state file with more than one name is refused at start, naming the file. So is a path
//! naming a directory, a pipe or a device, as what it is.
//!
//! A change the file cannot take (another program holds its lock for more than 100 ms, the
//! disk is full) is answered 503 problem+json rather than as the operation's success, and an
//! `Idempotency-Key` it claimed is released, so a retry runs the request again instead of
//! replaying an answer a restart would lose. The change is undone too: memory is read back
//! from the file, so the emulator serves what a restart would, and the retry makes the change
//! once (a retry charges once, creates one record). While the file cannot be read either
//! (another program holds an exclusive lock on it), requests that change state are 503 without
//! running, and reads answer from memory, which may still show the change, until it can. A new
//! state file is written whole at start, so there is always a state to go back to.
//!
//! # Webhooks
//!
//! `event_subscriptions.create` / `get` / `list` / `update` / `delete` / `test` keep real
//! subscriptions per organization; another organization's id is 404, like a missing one.
//! `create` answers the subscription with its signing secret (`secret`, `whsec_` and 64 hex
//! digits from the operating system's generator), once: `get`, `list` and `update` leave it
//! out. The contract gives `list` no paging fields, so it answers
//! `{"total", "subscriptions"}` with every match of `event_type` / `active`, oldest first; an
//! organization holds at most 100 subscriptions.
//!
//! **Endpoints.** Like the API, the emulator accepts only `https` URLs of public hosts, and
//! answers anything else 422 at `["body", "endpoint_url"]`: plain `http`, URLs with
//! credentials, IP literals that are loopback, private, link-local, shared, documentation,
//! multicast or otherwise not globally routable (IPv4-mapped IPv6 included), and the names
//! `localhost`, single-label names and names under `.localhost`, `.local`, `.localdomain`,
//! `.internal` and `.home.arpa`. A name is resolved when a delivery connects, and only its
//! public addresses are used: a public name that points at a private address (or is made to,
//! after the subscription was accepted) fails the attempt with "resolves to no public
//! address" and is retried like any failed delivery. [`EmulatorBuilder::allow_local_webhooks`]
//! (`--allow-local-webhooks`) lifts the host rule and allows plain `http`, for receivers on
//! this machine such as `http://127.0.0.1:PORT/hook`. The rule is checked again before every
//! delivery, so a subscription kept in a state file does not reach a local host after a
//! restart without the flag. A subscription's own `headers` are sent with each delivery; they
//! may not replace `Content-Type`, `Host`, `User-Agent` or any `X-Geopera-*` header.
//!
//! **Events.** An order that reaches `fulfilled` on the emulator's clock is an
//! `order.fulfilled` event, a cancelled order is `order.cancelled`, a job that finishes is
//! `processing.job.completed` / `processing.job.failed` / `clip.job.completed` /
//! `clip.job.failed` (once, stamped with when it finished), `uploads.complete` and
//! `uploads.fail` are `upload.completed` / `upload.failed` (and so is an upload that expired,
//! once, stamped with when it did), and
//! `event_subscriptions.test` sends a `webhook.test` event. The body is
//! `{event_id, event_type, timestamp, organization_id, entity_type, entity_id, data}`. An event
//! goes to every active subscription of its organization with the same `event_type` whose
//! `filter_config` entries all equal the body's value at that key, read as a dotted path
//! (`{"entity_type": "order"}`, `{"data.type": "archive"}`). Order status follows the clock,
//! so fulfilments are picked up when the outbox is next looked at (a drain, a background
//! pass, or a subscription being created or updated), stamped with the time they happened;
//! orders fulfilled before the emulator first started are history and send nothing. The id
//! of an event found this way (a fulfilment, a finished job, an expired upload) is a digest
//! of what happened, so when a pass that delivered it is not kept (its state-file write
//! failed, or the process stopped before writing), it is found and delivered again under the
//! same event id.
//!
//! **Delivery.** `POST` to the endpoint with the body's exact bytes and `Content-Type:
//! application/json`, `X-Geopera-Signature: sha256=<lowercase hex HMAC-SHA256 of the body
//! keyed by the secret>`, `X-Geopera-Event` (the type), `X-Geopera-Event-ID` (the same on
//! every attempt; receivers dedupe on it) and `X-Geopera-Delivery-ID` (new per attempt).
//! Redirects are not followed and no proxy is used. Any 2xx acknowledges; another status, a
//! failed connection, an answer that cannot be read (the connection closed before it came, or
//! it was malformed or too large) or no answer within 5 s is a failure, retried after 10 s,
//! then 20 s, 40 s, … (doubling) on the emulator's clock, and given up after 8 attempts. The
//! outbox holds at most 10,000 deliveries; a new one beyond that drops the oldest of the
//! organization with the most waiting, so one organization's flood cannot push out another's
//! retries. A delivery stays in the outbox, and in the state file, while it is attempted,
//! until the attempt's outcome is kept, and no other drain sends it meanwhile (an undone
//! write in between included). Each outcome is applied as it comes back, so a drain cut off
//! midway (its caller hung up, the emulator stopped) keeps those it had; a delivery whose
//! attempt was still out then is due again, under the same event id.
//!
//! **When.** `webhooks.drain` (no credentials; optional `limit`, 1 to 2000, default 2000)
//! delivers what is due at that moment on the emulator's clock, organizations taking turns
//! (each one's oldest delivery, then each one's next, …) and 8 at a time, for 10 s at most:
//! what it has not attempted by then, or whose attempt it cut off, stays due for the next
//! drain, so endpoints that never answer cannot hold a drain for minutes. It answers
//! `{"drained", "failed", "given_up", "discarded", "remaining"}` (`discarded`: deliveries whose
//! subscription was deleted or made inactive). With a frozen [`ManualClock`] (the library
//! default) that is the only way anything is delivered, so tests decide exactly when: move
//! the clock, then drain. With a clock that follows the wall clock (the binary's, or
//! [`ManualClock::system`]) a background pass also delivers whatever is due about once a
//! second. `event_subscriptions.test` delivers at once, one attempt, and reports
//! `{status, delivered, http_status, error, event_id, event_type}`; it is not retried.
//!
//! # Faults
//!
//! Off by default. A plan comes from [`EmulatorBuilder::faults`] (or `--faults`) and can be
//! replaced while the emulator runs with [`EmulatorHandle::set_faults`]; any single request
//! can carry its own in the `x-emulator-fault` header. Both use one syntax:
//! comma-separated rules, each `ACTION[;OPTION...][@RATE%]`.
//!
//! Plan faults stand for the network and the servers: they strike before authentication,
//! whoever calls. Header faults are drawn only once the request is authenticated (without
//! valid credentials it gets its usual 401, header or not), and a header's `burst=N`
//! throttles only the following requests of the same organization. The one operation that
//! needs no credentials, `webhooks.drain`, takes header faults from anyone, and a burst
//! there throttles the caller's address; its latency and slow body last at most 10 seconds,
//! so that nobody can hold the emulator's connections with them. A header sent on several
//! lines is read as one list, their rules joined; a header that does not parse, or has
//! characters other than visible ASCII, is 400 problem+json.
//!
//! | action | effect |
//! |---|---|
//! | `latency=250ms` (or `2s`) | wait before handling |
//! | `500`, `502`, `503`, `504` | problem+json server error |
//! | `429` | problem+json 429 with `Retry-After` (to the window's end unless given) |
//! | `status=418` or any other code | that status with a plain-text body (none for 204, 205 and 304) |
//! | `reset` | close the connection with a TCP reset, no answer |
//! | `truncate` | headers and half the body, then the connection drops |
//! | `malformed` | a complete answer whose JSON is cut in half |
//! | `slow=2s` | the body in at most ten pieces spread over the duration |
//!
//! Options: `before` (default) or `after` — for server errors, statuses and resets, strike
//! after the operation executed and committed its effects, so only the answer is lost (a
//! request refused once its caller is known, a 403 or a 422, loses that refusal the same way);
//! `retry-after=N` adds `Retry-After: N`; `burst=N` makes a 429 last for N requests in a row;
//! `op=ID` limits the rule to one operation (a 429 burst, too, goes on for that operation
//! only), and an id no operation has is refused; `times=N` strikes at most N times. `@10%` strikes
//! that share of matching requests, chosen deterministically from the seed (the same run gives
//! the same faults). A rule gives each option at most once (`before` and `after` are one).
//! Examples: `503;retry-after=1@20%`, `reset;after;op=billing.topup;times=1`,
//! `latency=50ms,truncate@5%`.
//!
//! # Operations
//!
//! What each operation does with the emulator's state: *stateful* ones read or change
//! records kept per organization (and in the state file), *derived* ones compute their answer
//! from the request, the seed and the synthetic catalog and keep nothing, *sample* ones answer
//! a deterministic sample of their output shape (a body naming another organization than the
//! caller's is 404 all the same, except for Geopera's `admin:` operations). The places given
//! to sample operations keep the rules the searches and items keep, else they are 422 at
//! their field: `catalog.granule_points`' `bbox` is read as a search's, its `clip_polygon` as
//! an area to order (a Polygon or MultiPolygon on the globe), and `cog.statistics`'
//! `geometry` as an item's. The `bbox` of `analytics.band_math` and
//! `analytics.calculate_index` is an object whose members the contract does not name: one
//! naming any of `west`, `south`, `east` and `north` must name all four, as numbers within a
//! bbox's bounds, and one naming none of them is not checked.
//!
//! The table is generated from the emulator's own handler table, so it cannot drift from
//! what the emulator does.
//!
#![doc = include_str!("../docs/operations.md")]

mod body_deadline;
mod catalog;
mod changes;
mod clock;
mod conn;
mod control;
mod downloads;
mod error;
mod faults;
mod hosts;
mod idempotency;
mod images;
mod jobs;
mod limits;
mod oidc;
mod op_body;
mod ops;
mod pipeline;
mod recording;
mod records;
mod request_id;
mod resources;
mod rng;
mod routes;
mod scopes;
mod stac_links;
mod starter;
mod state;
mod storage;
mod store;
mod uploads;
mod webhooks;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

pub use crate::body_deadline::{BODIES_HELD_AT_ONCE, BODY_DEADLINE};
pub use crate::clock::{ManualClock, DEFAULT_START_UNIX_SECS};
pub use crate::conn::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    MAX_CONNECTION_TIMEOUT,
};
pub use crate::control::CONTROL_PREFIX;
pub use crate::error::{ApiError, ApiJson, Reply, MAX_BODY_DEPTH, MAX_MESSAGE_BYTES};
pub use crate::faults::{FaultKind, FaultPlan, FaultRule, FaultSpecError, Phase};
pub use crate::hosts::{check_allowed_host, AllowedHostError};
pub use crate::idempotency::REPLAYED_HEADER;
pub use crate::jobs::{
    FAIL_MARKER as JOB_FAIL_MARKER, QUEUED_SECS as JOB_QUEUED_SECS, RUN_SECS as JOB_RUN_SECS,
};
pub use crate::limits::{RateLimits, RateLimitsError};
pub use crate::oidc::sessions::{
    ACCESS_TOKEN_SECS, MAX_ACCESS_TOKENS_PER_SESSION, MAX_PENDING_DEVICE_LOGINS,
    MAX_PENDING_DEVICE_LOGINS_PER_CLIENT, MAX_SESSIONS, MAX_SESSIONS_PER_PRINCIPAL,
    REFRESH_TOKEN_SECS,
};
pub use crate::oidc::{demo_users, OidcCounters, User, KEY_CLIENT, PUBLIC_CLIENT, REALM};
pub use crate::ops::{
    MAX_ALERT_EVENTS, MAX_KEY_LIFETIME_DAYS, MAX_KEY_PERMISSIONS, MAX_KEY_RATE_LIMIT,
    MAX_KEY_RATE_WINDOWS, MAX_ORDERS_PER_ORG, MAX_SCOPE_CHARS, MAX_TRANSACTIONS,
};
pub use crate::pipeline::FAULT_HEADER;
pub use crate::recording::{RecordedRequest, DEFAULT_RECORD_BUDGET_BYTES, DEFAULT_RECORD_LIMIT};
pub use crate::request_id::{MAX_REQUEST_ID_CHARS, REQUEST_ID_HEADER};
pub use crate::starter::STARTER_ITEMS;
pub use crate::state::{DEMO_ORG, HISTORICAL_ORDERS, MAX_KEYS_PER_ORG, STARTING_CREDITS};
pub use crate::storage::{MAX_STORED_BYTES_PER_ORG, SMALL_BODY_BYTES};
pub use crate::uploads::{
    BODY_IDLE_TIMEOUT, MAX_UPLOAD_BYTES, STORAGE_QUOTA_BYTES, UPLOAD_IDLE_SECS,
    UPLOAD_PUT_MIN_BYTES_PER_SEC, UPLOAD_PUT_MIN_SECS, UPLOAD_URL_SECS,
};
pub use crate::webhooks::DRAIN_DEADLINE;

use crate::state::Shared;

/// The largest request body read by default: 2 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Entry point: `Emulator::builder()...start()`.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with the defaults: seed 0, documented rate limits, a frozen [`ManualClock`],
    /// no faults, a random port on 127.0.0.1.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures and starts an emulator. Setters never fail; [`start`](Self::start) reports
/// the first problem.
#[derive(Debug)]
#[must_use]
pub struct EmulatorBuilder {
    seed: u64,
    limits: RateLimits,
    rate_window: Duration,
    clock: ManualClock,
    faults: FaultPlan,
    addr: SocketAddr,
    spec: Option<Bytes>,
    body_limit: usize,
    record_limit: usize,
    record_budget: usize,
    record_bodies: bool,
    state_file: Option<PathBuf>,
    timeouts: conn::Timeouts,
    max_connections: usize,
    users: Vec<User>,
    control: bool,
    allow_local_webhooks: bool,
    allowed_hosts: Vec<String>,
    /// The first value a setter could not take, which [`start`](Self::start) reports.
    invalid: Option<AllowedHostError>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            seed: 0,
            limits: RateLimits::documented(),
            rate_window: geopera_types::RateClass::WINDOW,
            clock: ManualClock::new(),
            faults: FaultPlan::none(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            spec: None,
            body_limit: DEFAULT_BODY_LIMIT,
            record_limit: DEFAULT_RECORD_LIMIT,
            record_budget: DEFAULT_RECORD_BUDGET_BYTES,
            record_bodies: false,
            state_file: None,
            timeouts: conn::Timeouts {
                header_read: DEFAULT_HEADER_READ_TIMEOUT,
                idle: DEFAULT_IDLE_TIMEOUT,
            },
            max_connections: DEFAULT_MAX_CONNECTIONS,
            users: demo_users(),
            control: false,
            allow_local_webhooks: false,
            allowed_hosts: Vec::new(),
            invalid: None,
        }
    }
}

impl EmulatorBuilder {
    /// The seed all data, ids, the demo key and session token and fault decisions derive
    /// from. Keys minted later (`api_keys.create`, [`EmulatorHandle::create_key`]) do not:
    /// their secrets come from the operating system's generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The per-minute caps (default: [`RateLimits::documented`]).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The length of a rate-limit window (default 60 s, as the API's). Windows stay aligned to
    /// multiples of it on the clock; a short one lets a test watch many windows go by on the
    /// wall clock. The caps of [`RateLimits`] then count per window, not per minute.
    pub fn rate_window(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self
    }

    /// The clock; keep a clone to move time forward from the test.
    pub fn clock(mut self, clock: ManualClock) -> Self {
        self.clock = clock;
        self
    }

    /// Faults to inject (default: none).
    pub fn faults(mut self, faults: FaultPlan) -> Self {
        self.faults = faults;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The OpenAPI document to serve at `GET /openapi.json`.
    pub fn spec(mut self, spec: impl Into<Bytes>) -> Self {
        self.spec = Some(spec.into());
        self
    }

    /// The largest request body the emulator reads, in bytes (default
    /// [`DEFAULT_BODY_LIMIT`], 2 MiB); a larger one is answered 413 problem+json before any
    /// other check. The contract documents no limit; this one keeps memory per request
    /// bounded.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// A SQLite file that keeps orders, keys and balances across restarts (default: none,
    /// everything lives in memory). Created when missing; a file written with another seed
    /// is refused by [`start`](Self::start).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// How many recent requests [`EmulatorHandle::requests`] keeps (default
    /// [`DEFAULT_RECORD_LIMIT`], 1,000; 0 records nothing).
    pub fn record_limit(mut self, limit: usize) -> Self {
        self.record_limit = limit;
        self
    }

    /// How many bytes of headers and bodies the request log may hold (default
    /// [`DEFAULT_RECORD_BUDGET_BYTES`], 16 MiB); the oldest requests go first. Bounded so
    /// that a long-running emulator, or one fed large bodies, keeps a flat footprint.
    pub fn record_budget(mut self, bytes: usize) -> Self {
        self.record_budget = bytes;
        self
    }

    /// Whether recorded requests keep their bodies (default `false`: headers only). Turn it
    /// on in tests that read [`RecordedRequest::body`] or [`RecordedRequest::json`]. A request
    /// refused before its body is read (an unknown operation, 401, 429, 403) is recorded
    /// without it.
    pub fn record_bodies(mut self, keep: bool) -> Self {
        self.record_bodies = keep;
        self
    }

    /// How long a client has to send a complete request head (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`], 10 s), counted from the connection's start and, on a
    /// kept-alive HTTP/1.1 connection, from the previous answer: a connection that has not
    /// delivered a request head by then is closed, so slow or silent clients cannot hold
    /// connections open. This also ends idle HTTP/1.1 keep-alive connections. A timeout
    /// longer than [`MAX_CONNECTION_TIMEOUT`] (a year; `Duration::MAX` included) is taken as
    /// that: no timeout, in practice.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.header_read = timeout.min(conn::MAX_CONNECTION_TIMEOUT);
        self
    }

    /// How long a connection may have no request in progress before it is closed (default
    /// [`DEFAULT_IDLE_TIMEOUT`], 60 s); what bounds idle HTTP/2 connections, which have no
    /// header phase between requests. A request counts as in progress until its answer is
    /// fully sent, so slow answers and injected latency are never cut short. The same time
    /// bounds a client that takes none of an answer: once the connection's socket has been
    /// full that long with no byte taken, the connection is reset. A timeout longer than
    /// [`MAX_CONNECTION_TIMEOUT`] is taken as that, as for
    /// [`header_read_timeout`](Self::header_read_timeout).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = timeout.min(conn::MAX_CONNECTION_TIMEOUT);
        self
    }

    /// How many connections are served at once (default [`DEFAULT_MAX_CONNECTIONS`],
    /// 10,000; 0 is taken as 1). Past it, no new connection is accepted until one closes:
    /// the operating system holds the new ones in the listen backlog (and a client's connect
    /// waits or, once the backlog is full, times out), and they are served in turn. HTTP/2
    /// clients are served many requests on one connection.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Adds a user who can sign in (password grant, device-login approval), replacing a
    /// user of the same name. The demo users of [`demo_users`] are there unless
    /// [`users`](Self::users) replaced them.
    pub fn user(mut self, user: User) -> Self {
        self.users
            .retain(|known| known.username() != user.username());
        self.users.push(user);
        self
    }

    /// Replaces every user, the demo users included (an empty list turns password sign-in
    /// off).
    pub fn users(mut self, users: impl IntoIterator<Item = User>) -> Self {
        self.users = users.into_iter().collect();
        self
    }

    /// Serves the control endpoints under [`CONTROL_PREFIX`] (default `false`): the clock,
    /// device-login decisions and sign-in counters over HTTP, for tests in other processes.
    /// Anyone who can reach the port can use them, so leave them off on shared hosts (web
    /// pages of other sites are refused: see [Control endpoints](crate#control-endpoints)).
    pub fn control(mut self, enabled: bool) -> Self {
        self.control = enabled;
        self
    }

    /// Lets event subscriptions name plain-HTTP, loopback, private and internal endpoints
    /// (default `false`: only `https` to public hosts), so a test can receive webhooks on
    /// `http://127.0.0.1:PORT`. See [Webhooks](crate#webhooks).
    pub fn allow_local_webhooks(mut self, allow: bool) -> Self {
        self.allow_local_webhooks = allow;
        self
    }

    /// Answers requests that name the emulator `name` in their `Host` (a container's or a
    /// machine's name, without a port), besides IP addresses, `localhost` and names under
    /// `.localhost`, which are always answered; may be given more than once. Any other name is
    /// refused with 403, so that a web page cannot reach the emulator through a name of its
    /// own pointed at this machine (DNS rebinding). Matched in any case, with or without a
    /// final dot, as a request's host is. A name with a port, a scheme, a path or userinfo
    /// could never match one, so [`start`](Self::start) refuses it
    /// ([`check_allowed_host`] tells beforehand).
    pub fn allowed_host(mut self, name: impl Into<String>) -> Self {
        match hosts::allowed_name(&name.into()) {
            Ok(name) => self.allowed_hosts.push(name),
            Err(error) => {
                self.invalid.get_or_insert(error);
            }
        }
        self
    }

    /// Binds the address, starts the server on its own thread and runtime, and returns once
    /// it accepts connections.
    ///
    /// # Errors
    /// When a setter was given a value it cannot use ([`io::ErrorKind::InvalidInput`],
    /// naming the setter and the value: an [`allowed_host`](Self::allowed_host) that is not
    /// a bare host name), the address cannot be bound, the state file cannot be opened or
    /// belongs to another seed, or the runtime, thread or webhook client cannot be created.
    /// An error about the address or the state file names it.
    pub fn start(self) -> io::Result<EmulatorHandle> {
        if let Some(error) = self.invalid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("EmulatorBuilder::allowed_host: {error}"),
            ));
        }
        let webhook_client =
            webhooks::client(self.allow_local_webhooks).map_err(io::Error::other)?;
        let store = match &self.state_file {
            Some(path) => Some(store::Store::open(path, self.seed)?),
            None => None,
        };
        // A new file is written at once, so it always holds a state to go back to; one of an
        // older emulator, so that it keeps the key of the links this run hands out.
        let fresh = matches!(
            &store,
            Some((_, None))
                | Some((
                    _,
                    Some(store::Snapshot {
                        download_key: None,
                        ..
                    })
                ))
        );
        let std_listener = std::net::TcpListener::bind(self.addr).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot listen on {}: {error}", self.addr),
            )
        })?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        // Links (signed upload and download URLs, STAC hrefs, redirects) name an address a
        // client can connect to: bound to every interface (`0.0.0.0`, `::`), they name the
        // loopback of its family, where a client on this machine (or behind a published
        // port) finds the emulator, rather than an address no client can reach.
        let linked = if addr.ip().is_unspecified() {
            let loopback: std::net::IpAddr = if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            SocketAddr::new(loopback, addr.port())
        } else {
            addr
        };
        let base_url = format!("http://{linked}");
        let mut shared = Shared::new(
            self.seed,
            self.clock.clone(),
            self.limits,
            self.faults,
            base_url.clone(),
            self.spec,
            self.body_limit,
            recording::RequestLog::new(self.record_limit, self.record_budget, self.record_bodies),
            store,
            self.users,
            (self.allow_local_webhooks, webhook_client),
            downloads::DownloadKey::generate()
                .map_err(|e| io::Error::other(format!("no randomness for download links: {e}")))?,
        );
        shared.rate_window_ms = limits::millis(self.rate_window).max(1);
        if fresh || shared.lock().claims.rewrites_due() {
            shared.write_first()?;
        }
        let shared = Arc::new(shared);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("geopera-emulator")
            .enable_all()
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let hosts = hosts::AllowedHosts(self.allowed_hosts.into());
        let app = routes::router(shared.clone(), self.control, hosts);
        let background = shared.clone();
        let timeouts = self.timeouts;
        let max_connections = self.max_connections;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name(format!("geopera-emulator-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(listener) => listener,
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    if background.clock.follows_wall_clock() {
                        tokio::spawn(webhooks::background(background, stopped.clone()));
                    }
                    let grace = Duration::from_secs(2);
                    conn::serve(listener, app, timeouts, max_connections, stopped, grace).await;
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                return Err(io::Error::other(
                    "the emulator thread stopped while starting",
                ))
            }
        }
        Ok(EmulatorHandle {
            addr,
            base_url,
            shared,
            stop,
            thread: Some(thread),
        })
    }
}

/// A running emulator; dropping it stops the server (open connections get two seconds).
pub struct EmulatorHandle {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// Where it listens, and nothing of its state: that holds every key's secret, the session
/// token and the answers kept for idempotency keys, which a test printing the handle (a
/// failed assertion's message, `dbg!`) would write into its output.
impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .field("seed", &self.shared.seed)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash): the address it listens
    /// on, or the loopback address of its family when it listens on every interface
    /// (`0.0.0.0`, `::`), as its links name it.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The demo `gpra_` key: organization [`DEMO_ORG`], every scope.
    pub fn api_key(&self) -> &str {
        &self.shared.demo_key
    }

    /// A session (JWT-shaped) token for the demo organization with every scope.
    pub fn session_token(&self) -> &str {
        &self.shared.session_token
    }

    /// The clock the emulator reads; advance it to move rate-limit windows and orders along.
    pub fn clock(&self) -> &ManualClock {
        &self.shared.clock
    }

    /// The seed the data derives from.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// A new key of the demo organization granted exactly `scopes`, e.g. `["orders:*"]`.
    ///
    /// # Panics
    /// As [`create_key_in_org`](Self::create_key_in_org).
    pub fn create_key(&self, scopes: &[&str]) -> String {
        self.create_key_in_org(DEMO_ORG, scopes)
    }

    /// A new key of another organization (with its own balance, orders and rate limits).
    ///
    /// # Panics
    /// When the operating system has no randomness to give for the secret (a test has no
    /// other way to go on, and a key from the seed could be worked out by anyone), or the
    /// organization already holds [`MAX_KEYS_PER_ORG`] live keys.
    pub fn create_key_in_org(&self, org: &str, scopes: &[&str]) -> String {
        let grants = scopes.iter().map(|scope| (*scope).to_owned()).collect();
        let lane = self.shared.try_lane();
        let secret = self
            .shared
            .create_key(records::NewKey::new(org, "test key", grants))
            .expect("a key can be minted: randomness is there and the organization has room")
            .0;
        // Without the lane, the write of whoever holds it takes the key along. A failed
        // write is logged; it undoes the key, as it undoes any change the file did not take.
        if let Some(lane) = lane {
            let _ = self.shared.persist(&lane);
        }
        secret
    }

    /// Replaces the fault plan from the next request on, e.g. with [`FaultPlan::none`] to stop
    /// injecting before a test checks the state its calls left. The new rules count from
    /// zero (`times=`, `@N%` decisions), and a 429 burst the old plan started ends; requests
    /// already past their fault decision keep the faults they drew.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.shared.set_faults(plan);
    }

    /// The most recent requests to operations (`/v1/op/{id}`) and to the STAC `GET` routes
    /// (`/collections/...`, `/items/{id}`), oldest first, within the builder's
    /// [`record_limit`](EmulatorBuilder::record_limit) and
    /// [`record_budget`](EmulatorBuilder::record_budget).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How many times each operation actually executed (idempotent replays and rejected
    /// requests do not count).
    pub fn counters(&self) -> HashMap<String, u64> {
        self.shared.lock().counters.clone()
    }

    /// How many times one operation executed.
    pub fn executed(&self, operation_id: &str) -> u64 {
        self.shared
            .lock()
            .counters
            .get(operation_id)
            .copied()
            .unwrap_or(0)
    }

    /// The credit balance of an organization (as `billing.credits.balance` reports it).
    pub fn balance_credits(&self, org: &str) -> i64 {
        let now = self.shared.clock.now_secs();
        let seed = self.shared.seed;
        self.shared.lock().org(org, seed, now).balance_credits
    }

    /// The id of the project `org` starts with ("Default project", with three collections
    /// and [`STARTER_ITEMS`] items). It derives from the seed and the organization, so it is
    /// the same on every start; the project itself appears when the organization is first seen.
    pub fn default_project(&self, org: &str) -> String {
        starter::default_project_id(self.shared.seed, org)
    }

    /// The users who can sign in.
    pub fn users(&self) -> &[User] {
        &self.shared.users
    }

    /// How often the sign-in endpoints granted, refreshed, refused and revoked, since the
    /// emulator started.
    pub fn oidc_counters(&self) -> OidcCounters {
        self.shared.lock().oidc.counters.clone()
    }

    /// Approves the device login showing `user_code` as the user `username`, as the
    /// verification page does after a sign-in. Returns whether a login was waiting for that
    /// code.
    ///
    /// # Errors
    /// When no configured user has that name.
    pub fn approve_device(&self, user_code: &str, username: &str) -> Result<bool, String> {
        oidc::decide_device(&self.shared, user_code, Some(username))
    }

    /// Denies the device login showing `user_code`. Returns whether a login was waiting for
    /// that code.
    pub fn deny_device(&self, user_code: &str) -> bool {
        oidc::decide_device(&self.shared, user_code, None).unwrap_or(false)
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    /// Stops the server, then writes the state file once more (when there is one), so what
    /// changed without a request — the clock, above all — is there on the next start.
    fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            // Nobody is left to answer; a failure is logged.
            if let Some(lane) = self.shared.try_lane() {
                let _ = self.shared.persist(&lane);
            }
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}
