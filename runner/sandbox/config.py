"""Every tunable of the sandbox in one frozen record: modes, limits, and the fault plan.

Three layers, later wins: the defaults below (Marketo's documented numbers), the fixture's
`config:` section (`from_mapping`), and keyword overrides (`override`, for CLI flags).
A limit set to None is switched off (a benchmark wants no 20023 at 5,000 calls/s).
REST's own settings (identity, quota, clones) live in the nested `RestConfig`; REST shares
the rate window and concurrency numbers with SOAP (Marketo documents the same 100/20 s and 10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from typing import Any

# Kinds of injected fault, in the order their rates are stacked (see injection.py).
FAULT_KINDS = ("http500", "http503", "drop_before", "drop_after", "slow", "fault20016",
               "fault20023", "fault20024", "http502_after", "http504_after")
FAULT_KINDS_YAML = {  # fixture spelling -> FaultPlan field
    "http500": "http500", "http503": "http503", "dropBefore": "drop_before",
    "dropAfter": "drop_after", "slow": "slow", "fault20016": "fault20016",
    "fault20023": "fault20023", "fault20024": "fault20024",
    "http502After": "http502_after", "http504After": "http504_after",
}
_YAML_LIMITS = {  # fixture key -> SandboxConfig field
    "maxInFlight": "max_in_flight", "dailyQuota": "daily_quota",
    "cloneLimitPerDay": "clone_limit_per_day",
}
_YAML_COUNTS = {"importStatusChecks": "import_status_checks"}  # non-negative integers


_YAML_REST = {  # fixture key under config.rest -> RestConfig field
    "tokenLifetimeSeconds": "token_lifetime", "dailyQuota": "daily_quota",
    "cloneLimitPerDay": "clone_limit_per_day", "accessTokenQuery": "access_token_query",
    "describeSoapNames": "describe_soap_names",
}


class ConfigError(ValueError):
    """A bad setting; the message names it (the caller adds the file)."""


@dataclass(frozen=True)
class FaultPlan:
    """Injected faults: each request draws at most one kind, with these probabilities.

    The draw for the Nth SOAP request since start-up is a pure function of (seed, N), so a
    seed replays the same faults for the same sequence of requests.
    """

    seed: int = 0
    http500: float = 0.0  # HTTP 500 with an empty body (no SOAP Fault)
    http503: float = 0.0  # HTTP 503 with an empty body
    drop_before: float = 0.0  # connection closed before the request is processed
    drop_after: float = 0.0  # request processed and committed, then the connection closed
    slow: float = 0.0  # processed, then answered after `slow_seconds`
    fault20016: float = 0.0  # answered with the Marketo fault instead of processing
    fault20023: float = 0.0
    fault20024: float = 0.0
    # Processed and committed, then answered HTTP 502 / 504 with a gateway's HTML page: a
    # proxy in front of Marketo that forwarded the request and lost (or waited out) the answer.
    http502_after: float = 0.0
    http504_after: float = 0.0
    slow_seconds: float = 2.0
    operations: frozenset[str] = frozenset()  # only these operations (empty: all)

    def __post_init__(self) -> None:
        rates = self.rates()
        if any(not 0.0 <= r <= 1.0 for r in rates.values()):
            raise ConfigError("fault rates must be between 0 and 1")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ConfigError("fault rates add up to more than 1")
        if self.slow_seconds < 0:
            raise ConfigError("slowSeconds must not be negative")

    def rates(self) -> dict[str, float]:
        return {kind: float(getattr(self, kind)) for kind in FAULT_KINDS}

    @property
    def active(self) -> bool:
        return any(self.rates().values())


@dataclass(frozen=True)
class RestConfig:
    """The REST twin's own settings (marketo-rest-reference.md §2, §4.1)."""

    token_lifetime: float = 3600.0  # seconds a new access token lives
    daily_quota: int | None = 50_000  # REST calls a day (reset 12:00 AM US Central): 607
    clone_limit_per_day: int | None = 20  # schedule calls with cloneToProgramName: 1020
    # The access_token query parameter was withdrawn in 2026 (reference §2.4): ignored
    # unless this is true, so a call carrying only that is a call without a token (603).
    access_token_query: bool = False
    # Reference §10 q1: nobody says whether describe keeps its `soap` names after SOAP's
    # retirement. Off, describe.json answers without them (a client's fallback can be tested).
    describe_soap_names: bool = True

    def __post_init__(self) -> None:
        if self.token_lifetime < 0:
            raise ConfigError("the REST token lifetime must not be negative")
        for name in ("daily_quota", "clone_limit_per_day"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"rest {name} must be a non-negative integer or None (off)")


@dataclass(frozen=True)
class SandboxConfig:
    # False (default): read requests as production did, ignoring what it ignored and logging
    # it (lenient.py); True: validate every request against its version's WSDL (20012).
    strict: bool = False
    # Marketo states no tolerance for requestTimestamp (reference §2.4): an assumption.
    timestamp_window: timedelta = timedelta(minutes=15)
    rate_limit_calls: int | None = 100  # more than this many calls ...
    rate_limit_window: float = 20.0  # ... in this many seconds: 20023
    max_in_flight: int | None = 10  # more concurrent calls: 20024
    daily_quota: int | None = 10_000  # calls a day (reset 12:00 AM US Central): 20015
    clone_limit_per_day: int | None = 10  # scheduleCampaign calls with cloneToProgramName
    workspaces_enabled: bool = False  # most subscriptions have no workspaces
    # Status reads (getImportToListStatus, a bulk job's status) that still see an import
    # processing before its outcome: 0, done by the first read; more, to test waiting.
    import_status_checks: int = 0
    faults: FaultPlan = field(default_factory=FaultPlan)
    rest: RestConfig = field(default_factory=RestConfig)

    def __post_init__(self) -> None:
        for name in ("rate_limit_calls", "max_in_flight", "daily_quota", "clone_limit_per_day"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"{name} must be a non-negative integer or None (off)")
        if self.rate_limit_window <= 0:
            raise ConfigError("the rate limit window must be positive")
        if (not isinstance(self.import_status_checks, int) or self.import_status_checks < 0
                or isinstance(self.import_status_checks, bool)):
            raise ConfigError("import_status_checks must be a non-negative integer")
        if self.timestamp_window < timedelta(0):
            raise ConfigError("the timestamp window must not be negative")

    def override(self, **changes: Any) -> SandboxConfig:
        """A copy with some fields changed. Fault settings may be given flat (`seed=7`,
        `http500=0.1`, `slow_seconds=1`, `fault_operations={...}`) or as `faults=FaultPlan`;
        REST settings flat with a `rest_` prefix (`rest_token_lifetime=5`) or as `rest=`.
        """
        plan_names = {f.name for f in fields(FaultPlan)}
        flat = {k: changes.pop(k) for k in list(changes) if k in plan_names}
        rest_flat = {k.removeprefix("rest_"): changes.pop(k) for k in list(changes)
                     if k.startswith("rest_") and k.removeprefix("rest_") in
                     {f.name for f in fields(RestConfig)}}
        if "fault_operations" in changes:
            flat["operations"] = frozenset(changes.pop("fault_operations"))
        unknown = set(changes) - {f.name for f in fields(SandboxConfig)}
        if unknown:
            raise ConfigError("unknown sandbox setting(s): " + ", ".join(sorted(unknown)))
        plan = changes.pop("faults", self.faults)
        if flat:
            plan = replace(plan, **flat)
        rest = changes.pop("rest", self.rest)
        if rest_flat:
            rest = replace(rest, **rest_flat)
        return replace(self, faults=plan, rest=rest, **changes)

    def without_limits(self) -> SandboxConfig:
        """Rate, concurrency, quota and clone limits off (benchmarks), SOAP's and REST's."""
        return replace(self, rate_limit_calls=None, max_in_flight=None, daily_quota=None,
                       clone_limit_per_day=None,
                       rest=replace(self.rest, daily_quota=None, clone_limit_per_day=None))


def from_mapping(data: Any) -> SandboxConfig:
    """The fixture's `config:` section (camelCase keys) on top of the defaults."""
    m = _mapping(data, "config", {"strict", "timestampWindowSeconds", "rateLimit",
                                  "workspacesEnabled", "faults", "rest", *_YAML_LIMITS,
                                  *_YAML_COUNTS})
    changes: dict[str, Any] = {}
    for key in ("strict", "workspacesEnabled"):
        if key in m:
            changes[_snake(key)] = _bool(m[key], f"config.{key}")
    if "timestampWindowSeconds" in m:
        seconds = _number(m["timestampWindowSeconds"], "config.timestampWindowSeconds")
        changes["timestamp_window"] = timedelta(seconds=seconds)
    for key, name in _YAML_LIMITS.items():
        if key in m:
            changes[name] = _limit(m[key], f"config.{key}")
    for key, name in _YAML_COUNTS.items():
        if key in m:
            value = m[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"config.{key} must be a non-negative integer")
            changes[name] = value
    if "rateLimit" in m:
        rate = m["rateLimit"]
        if rate is None or rate is False:
            changes["rate_limit_calls"] = None
        else:
            r = _mapping(rate, "config.rateLimit", {"calls", "windowSeconds"})
            if "calls" in r:
                changes["rate_limit_calls"] = _limit(r["calls"], "config.rateLimit.calls")
            if "windowSeconds" in r:
                changes["rate_limit_window"] = _number(r["windowSeconds"],
                                                       "config.rateLimit.windowSeconds")
    if "faults" in m:
        changes["faults"] = _faults(m["faults"])
    if "rest" in m:
        changes["rest"] = _rest(m["rest"])
    return SandboxConfig().override(**changes)


def _rest(data: Any) -> RestConfig:
    m = _mapping(data, "config.rest", set(_YAML_REST))
    values: dict[str, Any] = {}
    for key, name in _YAML_REST.items():
        if key not in m:
            continue
        where = f"config.rest.{key}"
        if key == "tokenLifetimeSeconds":
            values[name] = _number(m[key], where)
        elif key in ("accessTokenQuery", "describeSoapNames"):
            values[name] = _bool(m[key], where)
        else:
            values[name] = _limit(m[key], where)
    return RestConfig(**values)


def _faults(data: Any) -> FaultPlan:
    keys = {"seed", "slowSeconds", "operations", *FAULT_KINDS_YAML}
    m = _mapping(data, "config.faults", keys)
    values: dict[str, Any] = {}
    for key, kind in FAULT_KINDS_YAML.items():
        if key in m:
            values[kind] = _number(m[key], f"config.faults.{key}")
    if "seed" in m:
        if not isinstance(m["seed"], int) or isinstance(m["seed"], bool):
            raise ConfigError("config.faults.seed: must be an integer")
        values["seed"] = m["seed"]
    if "slowSeconds" in m:
        values["slow_seconds"] = _number(m["slowSeconds"], "config.faults.slowSeconds")
    if "operations" in m:
        ops = m["operations"]
        if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
            raise ConfigError("config.faults.operations: must be a list of operation names")
        values["operations"] = frozenset(ops)
    return FaultPlan(**values)


def parse_fault(spec: str) -> tuple[str, float]:
    """A CLI `--fault KIND=RATE` (e.g. `drop_after=0.05` or `dropAfter=0.05`)."""
    kind, sep, rate = spec.partition("=")
    kind = FAULT_KINDS_YAML.get(kind.strip(), kind.strip())
    if not sep or kind not in FAULT_KINDS:
        raise ConfigError(f"--fault {spec!r}: expected KIND=RATE, KIND one of "
                          + ", ".join(FAULT_KINDS))
    try:
        return kind, float(rate)
    except ValueError:
        raise ConfigError(f"--fault {spec!r}: {rate!r} is not a number") from None


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _mapping(data: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = sorted(str(k) for k in data.keys() - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return data


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false")
    return value


def _number(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: must be a non-negative number")
    return float(value)


def _limit(value: Any, where: str) -> int | None:
    if value is None or value is False:
        return None  # null / false: the limit is off
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{where}: must be a non-negative integer, or null for no limit")
    return value
