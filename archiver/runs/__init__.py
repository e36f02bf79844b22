"""Runs: apply engine results through the store, the ledger, manifests and the index."""
