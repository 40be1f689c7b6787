"""Qualiterrain's domain: scorecards, scoring, the store, sampling, statistics and the `qa` CLI."""
