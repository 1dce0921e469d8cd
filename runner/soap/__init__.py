"""SOAP 1.1 for mktows: namespaces, signing, envelope building, XSD checks, reply parsing."""
