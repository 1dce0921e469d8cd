"""Reports rendered from a RunResult: pure formatting, always through the redactor."""
