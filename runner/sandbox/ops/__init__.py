"""The operations the sandbox answers, by WSDL operation name."""

from __future__ import annotations

from runner.sandbox.ops.base import Call, Handler
from runner.sandbox.ops.get_campaigns_for_source import get_campaigns_for_source
from runner.sandbox.ops.get_lead import get_lead
from runner.sandbox.ops.request_campaign import request_campaign
from runner.sandbox.ops.schedule_campaign import schedule_campaign
from runner.sandbox.ops.sync_lead import sync_lead
from runner.sandbox.ops.sync_multiple_leads import sync_multiple_leads

HANDLERS: dict[str, Handler] = {
    "getCampaignsForSource": get_campaigns_for_source,
    "getLead": get_lead,
    "requestCampaign": request_campaign,
    "scheduleCampaign": schedule_campaign,
    "syncLead": sync_lead,
    "syncMultipleLeads": sync_multiple_leads,
}

__all__ = ["HANDLERS", "Call", "Handler"]
