"""Sending one call over one API: the executor's only view of the wire. SOAP builds the
envelope the plan checked, signs it (every attempt afresh) and reads the reply with the
operation's reader; REST hands the call to the operation's REST encoding through a session
that holds the run's token, field map and lookups. Both return the same outputs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from runner.calls import Call, sample_params
from runner.errors import ResponseError
from runner.operations.spec import Operation, Waiter
from runner.rest.api import RestSession, RestTarget
from runner.rest.client import Pacer
from runner.secrets import Redactor
from runner.soap import auth, envelope, response
from runner.soap.xsd import ServiceSchema
from runner.target import AnyTarget, Target


class Sender(Protocol):
    # True: the executor takes a pacing slot per attempt; False: the sender paces each of
    # its requests itself (a REST operation call may make several).
    paced_per_attempt: bool
    sends_soap_bodies: bool  # does it send the call's checked SOAP body (or build its own)?

    def send(self, call: Call) -> dict[str, Any]: ...


class SoapSender:
    paced_per_attempt = True
    sends_soap_bodies = True

    def __init__(self, target: Target, schema: ServiceSchema, transport: Any,
                 clock: Callable[[], datetime], waiter: Waiter | None = None,
                 pacer: Pacer | None = None) -> None:
        self.target, self.schema, self.transport, self.clock = target, schema, transport, clock
        self.waiter = waiter or Waiter()
        self.pacer = pacer  # for the requests it makes on its own: Marketo counts those too

    def send(self, call: Call) -> dict[str, Any]:
        op = call.step.op
        outputs = self._post(op, call.body, call.workspace)
        if op.soap.follow is None:
            return outputs
        # What the call goes on to do before it settles (importToList waits for its import).
        return op.soap.follow(sample_params(call), outputs, self, self.waiter)

    def read(self, op: Operation, params: dict[str, Any]) -> dict[str, Any]:
        """A read the runner makes on its own (preflight; an import's status checks), built
        and XSD-checked like any call's body."""
        body, problems = envelope.build(self.schema, op.name,
                                        op.soap.encode(op.with_defaults(params)))
        if body is None or problems:
            raise ResponseError(f"cannot build {op.name}: {problems}")  # a bug, not input
        slot = self.pacer.acquire() if self.pacer is not None else None
        try:
            return self._post(op, body.text, None)
        finally:
            if slot is not None and self.pacer is not None:
                self.pacer.release(slot)

    def _post(self, op: Operation, body: str, workspace: str | None) -> dict[str, Any]:
        target = self.target
        stamp = auth.w3c_timestamp(self.clock())  # every attempt is signed afresh
        signature = auth.sign(stamp, target.user_id, target.encryption_key)
        reply = self.transport.post(target.endpoint, op.name, envelope.assemble(
            body, target.user_id, signature, stamp, target.partner_id, workspace))
        return response.read(op.soap.read, self.schema.bindings[op.name].output_element, reply)


class RestSender:
    paced_per_attempt = False
    sends_soap_bodies = False

    def __init__(self, session: RestSession) -> None:
        self.session = session

    def send(self, call: Call) -> dict[str, Any]:
        return self.session.send(call.step.op, sample_params(call))


def sender_for(target: AnyTarget, schema: ServiceSchema, transport: Any, pacer: Pacer,
               redactor: Redactor, clock: Callable[[], datetime], *,
               stop: threading.Event | None = None,
               say: Callable[[str], None] | None = None,
               on_secret: Callable[[str], None] | None = None) -> Sender:
    """A call that waits for Marketo (importToList) pauses until `stop` is set (the run's
    Ctrl-C) and tells its progress to `say` (the console); by default it never stops and
    says nothing. A secret the sender comes to hold (a REST token) goes to `on_secret`,
    by default to the redactor."""
    waiter = Waiter(stop, say)
    if isinstance(target, RestTarget):
        # Each access token is a secret from the moment it exists.
        return RestSender(RestSession(target, transport, pacer=pacer,
                                      on_token=on_secret or redactor.add, waiter=waiter))
    return SoapSender(target, schema, transport, clock, waiter, pacer)
