"""Addresses: normalization, statuses (quarantine, denylist, allowlist) and the counting
rules, delivery feedback (SES, inbound SMS), the address store and its history, and the
outage guard's per-domain windows."""
