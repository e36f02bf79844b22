"""HTTP shared by capture and check: session factory, wire recording, SSRF guard, fetch."""
