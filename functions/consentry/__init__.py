"""Consentry's domain, shared by every function, in one subpackage per domain.

- `core`: identifiers, settings, errors, the clock, observability, pagination and the
  persistence helper every store uses.
- `consent`: a profile's consent and its proof, services and subscriptions, signed links.
- `addresses`: normalization, address statuses and the quarantine's counting rules,
  delivery feedback, the address store and its history, the outage guard's windows.
- `analysis`: the delivery analysis: its contract, audiences, the exclusion order and
  classifier, suppression reads, a run's files and record.
- `imports`: bulk imports of consent flags and address statuses.
"""
