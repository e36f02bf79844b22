"""Court-grade evidence: connection records, trusted timestamps, signatures (issue 21)."""
