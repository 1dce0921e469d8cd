"""What to do after an attempt fails, by Marketo fault code (mktows-reference.md §5.2) and,
for a call that must not run twice, by whether the server can have acted on it.

- 20016 (request expired): sign again and retry at once.
- 20023, 20024 (rate and concurrency limits): Marketo refused the request before acting on it:
  back off exponentially with jitter, then retry.
- 10001, 20011 (internal errors): back off and retry an upsert or a read; for requestCampaign /
  scheduleCampaign the failure may have come after the campaign was requested, so the call is
  `ambiguous` (never resent blindly).
- A connection that failed before the request left: back off and retry.
- HTTP 5xx without a SOAP Fault. 500 and 503 are the service saying it did not do the work
  (Marketo answers its own errors with a Fault; a bare 500/503 is its front end refusing):
  back off and retry. Any other 5xx (502 Bad Gateway, 504 Gateway Timeout, a CDN's 52x, an
  unknown one) comes from a gateway that may already have forwarded the request, and Marketo
  may have committed before the gateway gave up: retry an upsert or a read, but a campaign call
  is `ambiguous`.
- A timeout or dropped connection after the request was sent: retry an upsert (syncLead,
  syncMultipleLeads, reads); for requestCampaign / scheduleCampaign the outcome is unknown,
  and resending could run people through a campaign twice: the call is `ambiguous`.
- Everything else (201xx parameter and lead faults, 20014, 20015, ...) is permanent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from runner.errors import ResponseError, RestError, RunnerError, SoapFaultError, TransportError

RESIGN = "resign"
BACKOFF = "backoff"
AMBIGUOUS = "ambiguous"
FAIL = "fail"

TRANSIENT_FAULTS = frozenset({20023, 20024, 10001, 20011})
# Transient, but raised wherever the server failed, possibly after it acted.
INTERNAL_FAULTS = frozenset({10001, 20011})
# 5xx statuses that mean "not done": the service itself refused or failed the request. Any
# other 5xx is treated as a gateway's, which may have forwarded the request first.
NOT_ACTED_5XX = frozenset({500, 503})
# REST (marketo-rest-reference.md §4.2): a `success: false` reply is Marketo saying the call
# failed, so none of these is ambiguous, even for a campaign call. 601/602: a new token and
# a replay (runner.rest already replayed twice). 606/615 (limits), 604/608/611 (starred: not
# executed), 713 (transient), 614 (usually temporary), 1016/1019 (a bulk import refused
# while others run: too many, or one into the same list; §3.8): back off and retry. 607
# (daily quota) and everything else (603, 605, 609, 610, 612, 7xx, other 1xxx, refused
# before sending): FAIL, which stops the run with its journal intact; a resume sends the
# call again.
REST_REAUTH = frozenset({601, 602})
REST_TRANSIENT = frozenset({606, 615, 604, 608, 611, 713, 614, 1016, 1019})
REST_QUOTA = 607


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter around the nominal delay."""
        nominal = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        return float(nominal * rng.uniform(0.5, 1.5))


def decide(error: RunnerError, idempotent: bool) -> str:
    """What to do after an attempt failed; `idempotent`: may the operation run twice (its
    registry record says)."""
    once = not idempotent  # must not run twice
    if isinstance(error, SoapFaultError):
        if error.code == 20016:
            return RESIGN
        if error.code in INTERNAL_FAULTS and once:
            return AMBIGUOUS
        return BACKOFF if error.code in TRANSIENT_FAULTS else FAIL
    if isinstance(error, RestError):
        if error.code in REST_REAUTH:
            return RESIGN
        return BACKOFF if error.code in REST_TRANSIENT else FAIL
    if isinstance(error, TransportError):
        if not error.sent:
            return BACKOFF
        if error.http_status is not None and error.http_status in NOT_ACTED_5XX:
            return BACKOFF  # the service answered that it did not do the work
        return AMBIGUOUS if once else BACKOFF
    if isinstance(error, ResponseError):
        return FAIL
    return FAIL


def reason(error: RunnerError) -> str:
    if isinstance(error, SoapFaultError):
        return f"fault {error.code}" if error.code is not None else "SOAP fault"
    if isinstance(error, RestError) and error.code is not None:
        return f"REST {error.code}"
    if isinstance(error, TransportError) and error.http_status is not None:
        return f"HTTP {error.http_status}"
    return str(error)[:120]


def why_ambiguous(error: RunnerError, message: str) -> str:
    """The report's words for a call held back as ambiguous: what happened, and why it was
    not resent."""
    if isinstance(error, SoapFaultError):
        return (f"{message}: an internal error during a campaign call, possibly after Marketo "
                "acted; not resent")
    if isinstance(error, TransportError) and error.http_status is not None:
        return (f"{message}: a gateway's error after the request was forwarded; Marketo may "
                "have acted; not resent")
    return f"sent, but no answer ({message}): Marketo may have acted; not resent"
