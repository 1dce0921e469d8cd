"""The REST paths served, each with its methods, operation name (the request log's and the
fault plan's `operations`), handler and the role permissions that may call it.

`POST …?_method=GET` is routed as the GET it asks for. A path not listed is 610; a listed
path with another method is 605 (reference §9.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.sandbox.rest import assets, bulk, campaigns, leads, lists, sync, usage
from runner.sandbox.rest.call import Handler

_LEAD_READ = frozenset({"Read-Only Lead", "Read-Write Lead"})
_LEAD_WRITE = frozenset({"Read-Write Lead"})
_CAMPAIGN_READ = frozenset({"Read-Only Campaigns", "Read-Write Campaigns"})
_EXECUTE = frozenset({"Execute Campaign"})
_ASSET_READ = frozenset({"Read-Only Assets", "Read-Write Assets"})
_ANY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Endpoint:
    operation: str
    handler: Handler
    permissions: frozenset[str]  # any one of them will do; empty: any authenticated client


ROUTES: tuple[tuple[re.Pattern[str], dict[str, Endpoint]], ...] = tuple(
    (re.compile(pattern), methods) for pattern, methods in [
        (r"/rest/v1/leads\.json", {
            "GET": Endpoint("rest.getLeadsByFilter", leads.get_leads, _LEAD_READ),
            "POST": Endpoint("rest.syncLeads", sync.sync_leads, _LEAD_WRITE)}),
        (r"/rest/v1/lead/(\d+)\.json", {
            "GET": Endpoint("rest.getLeadById", leads.get_lead, _LEAD_READ)}),
        (r"/rest/v1/leads/describe\.json", {
            "GET": Endpoint("rest.describeLead", leads.describe, _LEAD_READ)}),
        (r"/rest/v1/leads/describe2\.json", {
            "GET": Endpoint("rest.describeLead2", leads.describe2, _LEAD_READ)}),
        (r"/rest/v1/leads/partitions\.json", {
            "GET": Endpoint("rest.getLeadPartitions", leads.partitions, _LEAD_READ)}),
        (r"/rest/v1/campaigns\.json", {
            "GET": Endpoint("rest.getCampaigns", campaigns.get_campaigns, _CAMPAIGN_READ)}),
        (r"/rest/v1/campaigns/(\d+)\.json", {
            "GET": Endpoint("rest.getCampaignById", campaigns.get_campaign, _CAMPAIGN_READ)}),
        (r"/rest/v1/campaigns/(\d+)/trigger\.json", {
            "POST": Endpoint("rest.triggerCampaign", campaigns.trigger, _EXECUTE)}),
        (r"/rest/v1/campaigns/(\d+)/schedule\.json", {
            "POST": Endpoint("rest.scheduleCampaign", campaigns.schedule, _EXECUTE)}),
        (r"/rest/asset/v1/smartCampaign/byName\.json", {
            "GET": Endpoint("rest.getSmartCampaignByName", assets.by_name, _ASSET_READ)}),
        (r"/rest/asset/v1/smartCampaign/(\d+)\.json", {
            "GET": Endpoint("rest.getSmartCampaignById", assets.by_id, _ASSET_READ)}),
        (r"/rest/asset/v1/smartCampaigns\.json", {
            "GET": Endpoint("rest.getSmartCampaigns", assets.browse, _ASSET_READ)}),
        (r"/rest/v1/lists\.json", {
            "GET": Endpoint("rest.getLists", lists.get_lists, _LEAD_READ)}),
        (r"/rest/v1/lists/(\d+)\.json", {
            "GET": Endpoint("rest.getListById", lists.get_list, _LEAD_READ)}),
        (r"/rest/v1/lists/(\d+)/leads\.json", {
            "GET": Endpoint("rest.getLeadsByListId", lists.members, _LEAD_READ),
            "POST": Endpoint("rest.addLeadsToList", lists.add, _LEAD_WRITE),
            "DELETE": Endpoint("rest.removeLeadsFromList", lists.remove, _LEAD_WRITE)}),
        (r"/rest/v1/lists/(\d+)/leads/ismember\.json", {
            "GET": Endpoint("rest.areLeadsMemberOfList", lists.is_member, _LEAD_READ)}),
        (r"/bulk/v1/leads\.json", {
            "POST": Endpoint("rest.importLeads", bulk.create, _LEAD_WRITE)}),
        (r"/bulk/v1/leads/batch/(\d+)\.json", {
            "GET": Endpoint("rest.getImportLeadStatus", bulk.status, _LEAD_READ)}),
        (r"/bulk/v1/leads/batch/(\d+)/failures\.json", {
            "GET": Endpoint("rest.getImportLeadFailures", bulk.failures, _LEAD_READ)}),
        (r"/bulk/v1/leads/batch/(\d+)/warnings\.json", {
            "GET": Endpoint("rest.getImportLeadWarnings", bulk.warnings, _LEAD_READ)}),
        (r"/rest/v1/stats/usage\.json", {
            "GET": Endpoint("rest.getDailyUsage", usage.daily, _ANY)}),
    ])

OPERATIONS = frozenset(e.operation for _, methods in ROUTES for e in methods.values())


def resolve(path: str) -> tuple[re.Match[str], dict[str, Endpoint]] | None:
    for pattern, methods in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return match, methods
    return None
