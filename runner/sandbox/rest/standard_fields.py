"""Marketo's standard lead fields: REST name, SOAP name (None: REST only) and label.

Facts from Marketo's "Standard Fields" page and the describe capture summarised in
marketo-rest-reference.md §3.3 (irregular names such as SICCode -> sicCode, DateofBirth ->
dateOfBirth, SOAP names with spaces). The SFDC key fields and the owner's email are the
sandbox's own SOAP spellings (fixture.py DEFAULT_KEY_FIELDS) with Marketo's REST names.

The fixture reader uses this table to give a field its REST name and label when the
fixture does not; a field absent from it is custom, and keeps its name over REST.
"""

from __future__ import annotations

# REST name -> (SOAP name or None, friendly label)
STANDARD: dict[str, tuple[str | None, str]] = {
    "address": ("Address", "Address"),
    "annualRevenue": ("AnnualRevenue", "Annual Revenue"),
    "anonymousIP": ("AnonymousIP", "Anonymous IP"),
    "billingCity": ("BillingCity", "Billing City"),
    "billingCountry": ("BillingCountry", "Billing Country"),
    "billingPostalCode": ("BillingPostalCode", "Billing Postal Code"),
    "billingState": ("BillingState", "Billing State"),
    "billingStreet": ("BillingStreet", "Billing Address"),
    "city": ("City", "City"),
    "company": ("Company", "Company Name"),
    "country": ("Country", "Country"),
    "dateOfBirth": ("DateofBirth", "Date of Birth"),
    "department": ("Department", "Department"),
    "doNotCall": ("DoNotCall", "Do Not Call"),
    "doNotCallReason": ("DoNotCallReason", "Do Not Call Reason"),
    "email": ("Email", "Email Address"),
    "fax": ("Fax", "Fax Number"),
    "firstName": ("FirstName", "First Name"),
    "industry": ("Industry", "Industry"),
    "inferredCompany": ("InferredCompany", "Inferred Company"),
    "inferredCountry": ("InferredCountry", "Inferred Country"),
    "lastName": ("LastName", "Last Name"),
    "leadRole": ("LeadRole", "Role"),
    "leadScore": ("LeadScore", "Lead Score"),
    "leadSource": ("LeadSource", "Lead Source"),
    "leadStatus": ("LeadStatus", "Lead Status"),
    "mainPhone": ("MainPhone", "Main Phone"),
    "jigsawContactId": ("Marketo Jigsaw Contact Id", "Marketo Data.com ID"),
    "jigsawContactStatus": ("Marketo Jigsaw Contact Status", "Marketo Data.com Status"),
    "middleName": ("MiddleName", "Middle Name"),
    "mobilePhone": ("MobilePhone", "Mobile Phone Number"),
    "numberOfEmployees": ("NumberOfEmployees", "Num Employees"),
    "phone": ("Phone", "Phone Number"),
    "postalCode": ("PostalCode", "Postal Code"),
    "rating": ("Rating", "Lead Rating"),
    "salutation": ("Salutation", "Salutation"),
    "sicCode": ("SICCode", "SIC Code"),
    "site": ("Site", "Site"),
    "state": ("State", "State"),
    "title": ("Title", "Job Title"),
    "unsubscribed": ("Unsubscribed", "Unsubscribed"),
    "unsubscribedReason": ("UnsubscribedReason", "Unsubscribed Reason"),
    "website": ("Website", "Website"),
    "contactCompany": ("Contact Company", "Contact Company"),
    "leadPerson": ("Lead Person", "Lead Person"),
    "personPrimaryLeadInterest": ("Person Primary Lead Interest",
                                  "Person Primary Lead Interest"),
    "leadRevenueCycleModelId": ("Lead Revenue Cycle Model ID", "Lead Revenue Cycle Model ID"),
    "leadRevenueStageId": ("Lead Revenue Stage ID", "Lead Revenue Stage ID"),
    "acquisitionProgramId": ("Acquisition Program ID", "Acquisition Program ID"),
    "leadOwnerEmailAddress": ("LeadOwnerEmailAddress", "Lead Owner Email Address"),
    "sfdcAccountId": ("SFDCAccountId", "SFDC Account Id"),
    "sfdcContactId": ("SFDCContactId", "SFDC Contact Id"),
    "sfdcLeadId": ("SFDCLeadId", "SFDC Lead Id"),
    "sfdcLeadOwnerId": ("SFDCLeadOwnerId", "SFDC Lead Owner Id"),
    "sfdcOpptyId": ("SFDCOpptyId", "SFDC Oppty Id"),
    # REST only
    "emailInvalid": (None, "Email Invalid"),
    "emailInvalidCause": (None, "Email Invalid Cause"),
    "inferredCity": (None, "Inferred City"),
    "inferredMetropolitanArea": (None, "Inferred Metropolitan Area"),
    "inferredPhoneAreaCode": (None, "Inferred Phone Area Code"),
    "inferredPostalCode": (None, "Inferred Postal Code"),
    "inferredStateRegion": (None, "Inferred State Region"),
    "isAnonymous": (None, "Is Anonymous"),
    "priority": (None, "Priority"),
    "relativeScore": (None, "Relative Score"),
    "urgency": (None, "Urgency"),
    "personTimeZone": (None, "Person Time Zone"),
}

BY_SOAP = {soap: rest for rest, (soap, _) in STANDARD.items() if soap is not None}

# Read-only over REST though writable over SOAP (the describe capture, reference §3.3).
REST_READ_ONLY = frozenset({
    "contactCompany", "originalSourceType", "originalSourceInfo", "originalSearchEngine",
    "originalSearchPhrase", "originalReferrer", "inferredCompany", "inferredCountry",
    "leadPerson", "personPrimaryLeadInterest",
})

# Standard fields Get Leads accepts as filterType (the swagger's list, reference §3.2);
# a custom field is searchable when its type is string, email or integer.
SEARCHABLE_STANDARD = frozenset({
    "cookies", "email", "facebookId", "id", "leadPartitionId", "linkedInId", "sfdcAccountId",
    "sfdcContactId", "sfdcLeadId", "sfdcLeadOwnerId", "sfdcOpptyId", "twitterId",
})
SEARCHABLE_CUSTOM_TYPES = frozenset({"string", "email", "integer"})
