"""Where a run sends, for as long as it runs: the playbook's own target, or the sandbox started
for it (`--sandbox`, with `--sandbox-db` and `--sandbox-fixture`). The CLI and the Python API
(runner.api) both start runs through `target_for`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.options import RunOptions
    from runner.prepare import Plan
    from runner.target import AnyTarget


@contextmanager
def target_for(options: RunOptions, plan: Plan) -> Iterator[AnyTarget]:
    """The sandbox, started here for the run's length (over the plan's API, with the
    options' database and fixture), or the playbook's own target."""
    from runner import sandbox as box
    from runner.rest.api import RestTarget
    from runner.secrets import Secret
    from runner.target import Target

    if not options.sandbox:
        assert plan.target is not None  # prepare() resolved it, or raised
        yield plan.target
        return
    # Strict: the sandbox validates each envelope against its WSDL, so a try-out on it also
    # proves the runner's own requests (the served default forgives, as Marketo did).
    with box.running(options.sandbox_db, options.sandbox_fixture, strict=True) as info:
        if plan.api == "rest":
            if info.client_id is None or info.client_secret is None:
                raise UsageError(f"the sandbox's fixture {_fixture(options)} has no REST client "
                                 "(restClients:)")
            yield RestTarget(info.rest_endpoint, info.identity_url, info.client_id,
                             Secret(info.client_secret))
        else:
            yield Target(info.endpoint, info.user_id, Secret(info.encryption_key))


def _fixture(options: RunOptions) -> str:
    return str(options.sandbox_fixture) if options.sandbox_fixture else "(the packaged one)"
