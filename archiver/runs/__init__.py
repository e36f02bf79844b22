"""Runs: claim work, call the engines, apply what they return (store, ledger, index)."""
