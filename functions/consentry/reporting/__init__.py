"""Daily figures for people who look rather than read JSON: what changed each day.

This package owns the daily-counts table. `counting` says what one stream record of
the consent-events or address-events table adds to which daily count (plain values, no
AWS); `counter_store` adds it exactly once however often the record is delivered; and
`daily` reads a series of days back with one Query per series, whatever the number of
profiles or addresses. The publisher counts each batch before it publishes it.
"""
