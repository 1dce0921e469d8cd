"""The REST twin: one request in, one reply out (no sockets here; server.py does HTTP).

Order (marketo-rest-reference.md §9): Identity requests are answered on their own (never
faulted, never counted). Any other request takes the next request number N, shared with
SOAP, and the fault plan's draw for it; an injected HTTP fault or Marketo code is answered
before anything else and counts toward nothing (drop_after, slow and the gateway errors
are processed and committed first, then misbehave, as for SOAP). Then the token (603 none, 602 first use
after expiry, 601 otherwise unknown), a method the path does not serve (605), the limits
(607 quota, 615 in flight, 606 rate; REST's own counters and daily quota), an unknown path
(610), the client's role (603), and the handler (612, 609, 1xxx, success). Every request
is logged in the store's `requests` table with `api = 'rest'`, in the same transaction as
the handler's writes; a response-level error undoes those writes.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from runner.sandbox.catalog import Catalog
from runner.sandbox.config import SandboxConfig
from runner.sandbox.faults import Fault
from runner.sandbox.fixture import Fixture
from runner.sandbox.injection import ACTED_THEN_GATEWAY, GATEWAY_PAGES, Injector, choose
from runner.sandbox.limits import Limits
from runner.sandbox.rest import envelope
from runner.sandbox.rest.call import RestCall
from runner.sandbox.rest.envelope import UNCOUNTED, Answer, RestError
from runner.sandbox.rest.fields import RestFields
from runner.sandbox.rest.identity import Identity, IdentityError
from runner.sandbox.rest.partitions import Partitions
from runner.sandbox.rest.request import Reply, RestRequest, finish
from runner.sandbox.rest.routes import Endpoint, resolve
from runner.sandbox.store import RequestLog, Store

TOKEN_PATH = "/identity/oauth/token"
FILE_TYPE = "text/csv;charset=UTF-8"  # a bulk file's type (unverified, reference §9.9)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The SOAP plan's Marketo-fault kinds mean the same to a REST client: re-authenticate and
# replay (20016 ~ 602), slow down (20023 ~ 606), fewer at once (20024 ~ 615).
INJECTED_CODES = {"fault20016": 602, "fault20023": 606, "fault20024": 615}
_HTTP_STATUS = {"http500": 500, "http503": 503}
_LIMIT_CODES = {20015: 607, 20024: 615, 20023: 606}  # limits.py speaks SOAP's codes


class RestService:
    def __init__(self, fixture: Fixture, store: Store, config: SandboxConfig,
                 clock: Callable[[], datetime]) -> None:
        self.fixture = fixture
        self.store = store
        self.config = config
        self.clock = clock
        self.catalog = Catalog(fixture, store)
        self.partitions = Partitions(fixture, config.workspaces_enabled)
        self.fields = RestFields(fixture, self.partitions)
        self.identity = Identity(fixture.rest_clients, config.rest.token_lifetime, clock)
        # Separate counters from SOAP's: the same rate and concurrency numbers, REST's quota.
        self.limits = Limits(config.override(daily_quota=config.rest.daily_quota), clock,
                             lambda start: store.counted_since(_iso(start), api="rest"))

    def handle(self, request: RestRequest, injector: Injector) -> Reply:
        if request.path == TOKEN_PATH:
            return finish(request, self._token(request))
        if request.path.startswith("/identity/"):
            return Reply(404, envelope.body({"error": "not_found",
                                             "error_description": "Not Found"}))
        kind, reply = self._api(request, injector)
        if kind == "drop_after":
            return Reply(0, b"", drop=True)  # acted (if it could); the client never hears
        if kind in ACTED_THEN_GATEWAY:  # acted (if it could); a gateway answers its page
            status = ACTED_THEN_GATEWAY[kind]
            return Reply(status, GATEWAY_PAGES[status], content_type="text/html")
        return finish(request, reply)

    # -- Identity ------------------------------------------------------------------------

    def _token(self, request: RestRequest) -> Reply:
        log = RequestLog("identity.token", api="rest")
        if request.method not in ("GET", "POST"):
            return Reply(405, envelope.body({
                "error": "method_not_allowed",
                "error_description": f"Request method '{request.method}' not supported"}),
                {**_NO_STORE, "Allow": "GET, POST"})
        params = request.params()
        try:
            client, token = self.identity.issue(params)
        except IdentityError as exc:
            given = (params.get("client_id") or [""])[-1] or None
            self._record(replace(log, user_id=given, fault_code=401, detail=str(exc)))
            return Reply(401, envelope.body(exc.body()), dict(_NO_STORE))
        self._record(replace(log, user_id=client.api_user, applied=True,
                             detail=f"expires_in {token['expires_in']}"))
        return Reply(200, envelope.body(token), dict(_NO_STORE))

    # -- the API -------------------------------------------------------------------------

    def _api(self, request: RestRequest, injector: Injector) -> tuple[str | None, Reply]:
        """The injected kind, and the reply before the kind's after-the-fact effects."""
        route = resolve(request.path)
        endpoint = route[1].get("GET" if request.reads else request.method) if route else None
        n, kind = _draw(injector, endpoint.operation if endpoint else None)
        return kind, self._answer(request, route, endpoint, n, kind)

    def _answer(self, request: RestRequest,
                route: tuple[re.Match[str], dict[str, Endpoint]] | None,
                endpoint: Endpoint | None, n: int, kind: str | None) -> Reply:
        now = self.clock()
        rid = envelope.request_id(now)
        asset = request.path.startswith("/rest/asset/")
        log = RequestLog(endpoint.operation if endpoint else None, n=n, injected=kind,
                         api="rest",
                         detail=None if endpoint else f"{request.method} {request.path}")

        def fail(error: RestError, at: RequestLog) -> Reply:
            self._record(replace(at, fault_code=error.code, detail=_detail(error, at)))
            return Reply(200, envelope.failure(rid, error, asset=asset))

        if kind in _HTTP_STATUS or kind == "drop_before":
            self._record(replace(log, detail="not processed"))
            return Reply(_HTTP_STATUS.get(kind, 0), b"", content_type="text/plain",
                         drop=kind == "drop_before")
        if kind in INJECTED_CODES:
            return fail(self._error(INJECTED_CODES[kind]), replace(
                log, detail="injected by the sandbox"))
        try:
            client = self.identity.check(request.token(self.config.rest.access_token_query))
        except RestError as error:
            if error.code not in UNCOUNTED:  # 603 without a token still counts (§4.1)
                self._count_only()
            return fail(error, replace(log, counted=error.code not in UNCOUNTED))
        log = replace(log, user_id=client.api_user, counted=True)
        if route is not None and endpoint is None:
            return fail(RestError(605), replace(log, counted=False))
        try:
            self.limits.admit()
        except Fault as fault:
            return fail(self._error(_LIMIT_CODES[fault.code]), log)
        try:
            if route is None or endpoint is None:
                raise RestError(610)
            call = RestCall(request, route[0], client, self.store, self.fixture, self.config,
                            self.catalog, self.fields, self.partitions, now)
            reply = self._serve(call, endpoint, rid, asset, log)
            if kind == "slow":
                time.sleep(self.config.faults.slow_seconds)  # still in flight, as for SOAP
            return reply
        except RestError as error:
            return fail(error, log)
        except Exception:  # a sandbox bug: Marketo's "System error", and say so on stderr
            traceback.print_exc(file=sys.stderr)
            return fail(RestError(611), replace(log, counted=False))
        finally:
            self.limits.release()

    def _serve(self, call: RestCall, endpoint: Endpoint, rid: str, asset: bool,
               log: RequestLog) -> Reply:
        if endpoint.permissions and not endpoint.permissions & call.client.permissions:
            raise RestError(603, "Access denied: the API user's role lacks "
                                 + " or ".join(sorted(endpoint.permissions)))
        with self.store.exclusive():  # the undo and the error's log row, nothing between
            try:
                with self.store.transaction():  # an error rolls the handler's writes back
                    answer: Answer = endpoint.handler(call)
                    self.store.record_request(replace(log, applied=True,
                                                      detail="; ".join(call.notes) or None))
            except RestError as error:
                with self.store.transaction():
                    self.store.record_request(replace(log, fault_code=error.code,
                                                      detail=_detail(error, log)))
                return Reply(200, envelope.failure(rid, error, asset=asset))
        if answer.file is not None:  # a bulk job's failure or warning file
            return Reply(200, answer.file, content_type=FILE_TYPE)
        return Reply(200, envelope.success(rid, answer, asset=asset))

    def _error(self, code: int) -> RestError:
        """The error for a code, with the numbers in force in the live texts (§4.2)."""
        c = self.config
        if code == 615:
            return RestError(615, f"Concurrent access limit '{c.max_in_flight or 10}' reached")
        if code == 606:
            return RestError(606, f"Max rate limit '{c.rate_limit_calls or 100}' exceeded with"
                                  f" in '{c.rate_limit_window:g}' secs")
        return RestError(code)

    def _count_only(self) -> None:
        """Count a rejected call toward the window and the quota (admit counts first)."""
        try:
            self.limits.admit()
        except Fault:
            return
        self.limits.release()

    def _record(self, log: RequestLog) -> None:
        with self.store.transaction():
            self.store.record_request(log)


def _draw(injector: Injector, operation: str | None) -> tuple[int, str | None]:
    """N and the fault kind for a REST request. The injector numbers SOAP and REST requests
    alike; its operation filter reads SOAP bodies, so REST applies the filter here."""
    n, _, _ = injector.next(b"")
    plan = injector.plan
    if not injector.active or (plan.operations and operation not in plan.operations):
        return n, None
    return n, choose(plan, n)


def _detail(error: RestError, log: RequestLog) -> str:
    return f"{error.message}; {log.detail}" if log.detail else error.message


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")  # as the store writes it
