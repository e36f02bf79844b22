"""Capture: site plan → fetch (every hop) → requisites → WARC records → snapshot rows."""
