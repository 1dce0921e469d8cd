"""What to do after an attempt fails, by Marketo fault code (mktows-reference.md §5.2).

- 20016 (request expired): sign again and retry at once.
- 20023, 20024, 10001, 20011, an HTTP 5xx without a SOAP Fault, and a connection that failed
  before the request left: back off exponentially with jitter, then retry.
- A timeout or dropped connection after the request was sent: retry an upsert (syncLead,
  syncMultipleLeads, reads); for requestCampaign / scheduleCampaign the outcome is unknown,
  and resending could run people through a campaign twice: the call is `ambiguous`.
- Everything else (201xx parameter and lead faults, 20014, 20015, ...) is permanent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from runner.errors import ResponseError, RunnerError, SoapFaultError, TransportError
from runner.operations import NON_IDEMPOTENT

RESIGN = "resign"
BACKOFF = "backoff"
AMBIGUOUS = "ambiguous"
FAIL = "fail"

TRANSIENT_FAULTS = frozenset({20023, 20024, 10001, 20011})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter around the nominal delay."""
        nominal = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        return float(nominal * rng.uniform(0.5, 1.5))


def decide(error: RunnerError, operation: str) -> str:
    if isinstance(error, SoapFaultError):
        if error.code == 20016:
            return RESIGN
        return BACKOFF if error.code in TRANSIENT_FAULTS else FAIL
    if isinstance(error, TransportError):
        if not error.sent:
            return BACKOFF
        if error.http_status is not None and error.http_status >= 500:
            return BACKOFF  # the server answered: an error page means it did not act
        return AMBIGUOUS if operation in NON_IDEMPOTENT else BACKOFF
    if isinstance(error, ResponseError):
        return FAIL
    return FAIL


def reason(error: RunnerError) -> str:
    if isinstance(error, SoapFaultError):
        return f"fault {error.code}" if error.code is not None else "SOAP fault"
    if isinstance(error, TransportError) and error.http_status is not None:
        return f"HTTP {error.http_status}"
    return str(error)[:120]
