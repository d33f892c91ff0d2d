"""Consent events out: every consent, subscription and address status change, read from
the tables' streams (the events already written are the outbox) and published on the
event bus.

`changes` turns one stream record into the event it publishes (or none), as plain
values; `publisher` sends them in order, in batches, and says which records to retry.
"""
