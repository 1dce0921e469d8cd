"""Namespace URIs and the prefixes Marketo writes."""

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MKTOWS = "http://www.marketo.com/mktows/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

SOAP_ACTION_BASE = MKTOWS  # SOAPAction is "http://www.marketo.com/mktows/<operation>"


def soap_action(operation: str) -> str:
    return f'"{SOAP_ACTION_BASE}{operation}"'
