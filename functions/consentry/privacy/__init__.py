"""Erasure (GDPR art. 17) that keeps the opt-out: what an erased person's addresses
still stop, held as keyed fingerprints of the addresses instead of the addresses.

`fingerprints` computes and stores them and answers "is this address suppressed since
an erasure?"; `erasure` erases a profile's personal data and keeps its suppressions.
"""
