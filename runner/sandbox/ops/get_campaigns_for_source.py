"""getCampaignsForSource: the campaigns requestCampaign can run (mktows-reference.md §3.7).

Only active trigger campaigns requestable from the given source are listed (clones made by
scheduleCampaign's cloneToProgramName included), by id. `name` filters
by case-insensitive substring, or by the exact (case-sensitive) name with exactName true.
"""

from __future__ import annotations

from runner.sandbox import replies
from runner.sandbox.fixture import Campaign
from runner.sandbox.ops.base import Call
from runner.sandbox.params import boolean, required, text


def get_campaigns_for_source(call: Call) -> str:
    source = (required(call.params, "source").text or "").strip()
    name = text(call.params, "name") or None
    exact = boolean(call.params, "exactName") or False
    found = [
        c for c in call.catalog.campaigns()
        if c.requestable_from(source) and (name is None or _matches(c, name, exact))
    ]
    records = (
        replies.wrap("campaignRecord", replies.el("id", c.id), replies.el("name", c.name),
                     replies.el("description", c.description))
        for c in found
    )
    return replies.result(
        replies.el("returnCount", len(found)),
        replies.wrap("campaignRecordList", *records) if found
        else replies.el("campaignRecordList", None),
    )


def _matches(campaign: Campaign, name: str, exact: bool) -> bool:
    return campaign.name == name if exact else name.casefold() in campaign.name.casefold()
