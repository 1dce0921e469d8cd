"""The operations the sandbox answers, by WSDL operation name."""

from __future__ import annotations

from runner.sandbox.ops.base import Call, Handler
from runner.sandbox.ops.get_campaigns_for_source import get_campaigns_for_source
from runner.sandbox.ops.get_import_to_list_status import get_import_to_list_status
from runner.sandbox.ops.get_lead import get_lead
from runner.sandbox.ops.import_to_list import import_to_list
from runner.sandbox.ops.list_operation import list_operation
from runner.sandbox.ops.request_campaign import request_campaign
from runner.sandbox.ops.schedule_campaign import schedule_campaign
from runner.sandbox.ops.sync_lead import sync_lead
from runner.sandbox.ops.sync_multiple_leads import sync_multiple_leads

HANDLERS: dict[str, Handler] = {
    "getCampaignsForSource": get_campaigns_for_source,
    "getImportToListStatus": get_import_to_list_status,
    "getLead": get_lead,
    "importToList": import_to_list,
    "listOperation": list_operation,
    "requestCampaign": request_campaign,
    "scheduleCampaign": schedule_campaign,
    "syncLead": sync_lead,
    "syncMultipleLeads": sync_multiple_leads,
}

__all__ = ["HANDLERS", "Call", "Handler"]
