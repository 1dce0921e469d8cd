"""Marketo-shaped SOAP 1.1 faults (mktows-reference.md §5.1).

HTTP 500; `SOAP-ENV:Client`; faultstring "NNNNN - Short text"; detail/ns1:serviceException
with name, message "longer text (NNNNN)" and code. Clients read the code, so the short
texts follow what Marketo was seen to send where known (§4 item 11), else the error table.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from runner.soap.namespaces import MKTOWS, SOAP_ENV

SHORT_TEXT = {
    10001: "Internal Error",
    20012: "Request Not Understood",
    20014: "Authentication failed",
    20015: "Request Limit Exceeded",
    20016: "Request Expired",
    20019: "Unsupported Operation",
    20023: "Rate Limit Exceeded",
    20024: "Concurrency Limit Exceeded",
    20101: "Lead Key Required",
    20102: "Lead Key Bad",
    20103: "Lead not found",
    20105: "Unknown lead field",
    20106: "Lead Sync Failed",
    20109: "Parameter Required",
    20110: "Bad Parameter",
    20111: "List Not Found",
    20113: "Campaign Not Found",
    20114: "Bad Parameter",
}

_TEMPLATE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault>'
    "<faultcode>SOAP-ENV:Client</faultcode><faultstring>{faultstring}</faultstring>"
    f'<detail><ns1:serviceException xmlns:ns1="{MKTOWS}">'
    "<name>mktServiceException</name><message>{message}</message><code>{code}</code>"
    "</ns1:serviceException></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


class Fault(Exception):
    """A mktows service exception. `text` is the detail message without its "(code)".

    `note` is kept in the sandbox's request log only: Marketo's 20014 says nothing about
    which check failed, and the sandbox answers the same way.
    """

    def __init__(self, code: int, text: str | None = None, *, note: str | None = None) -> None:
        self.code = code
        self.text = text or SHORT_TEXT[code]
        self.note = note
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.text} ({self.code})"

    @property
    def faultstring(self) -> str:
        return f"{self.code} - {SHORT_TEXT[self.code]}"

    def envelope(self) -> bytes:
        return _TEMPLATE.format(
            faultstring=escape(self.faultstring), message=escape(self.message), code=self.code,
        ).encode("utf-8")


# The namespace of the sandbox's own fault detail: nothing Marketo ever sent.
SANDBOX_NS = "urn:mktows-run:sandbox"

_NOT_EMULATED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV}"><SOAP-ENV:Body><SOAP-ENV:Fault>'
    "<faultcode>SOAP-ENV:Client</faultcode><faultstring>{faultstring}</faultstring>"
    f'<detail><sbx:notEmulated xmlns:sbx="{SANDBOX_NS}">'
    "<operation>{operation}</operation><version>{version}</version><served>{served}</served>"
    "</sbx:notEmulated></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


class NotEmulated(Exception):
    """A Marketo operation the sandbox does not answer. Not a Marketo fault: Marketo served
    these, so its 20019 "Unsupported Operation" would be a lie. The reply has no
    `serviceException` and no code (a client's retry logic sees a permanent failure), and its
    detail, in the sandbox's own namespace, names the operations this version answers."""

    def __init__(self, operation: str, version: str, served: tuple[str, ...]) -> None:
        self.operation = operation
        self.version = version
        self.served = served
        super().__init__(self.faultstring)

    @property
    def faultstring(self) -> str:
        return (f"Not emulated by the mktows sandbox: {self.operation} (API {self.version}"
                f" answers {', '.join(self.served)})")

    def envelope(self) -> bytes:
        served = "".join(f"<operation>{escape(op)}</operation>" for op in self.served)
        return _NOT_EMULATED.format(
            faultstring=escape(self.faultstring), operation=escape(self.operation),
            version=escape(self.version), served=served).encode("utf-8")
