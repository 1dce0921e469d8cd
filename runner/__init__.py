"""mktows-run: run Marketo SOAP API (mktows) playbooks. Holds the version string only."""

__version__ = "0.1.0"
