"""Consent events out: every consent, subscription and address status change, read from
the tables' streams (the events already written are the outbox) and published on the
event bus.

`records` reads a stream record once, as plain values; `changes` turns one into the
event it publishes (or none); `publisher` sends them in order, in batches, and says
which records to retry.
"""
