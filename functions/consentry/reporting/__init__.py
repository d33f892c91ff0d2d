"""Daily figures for people who look rather than read JSON: what changed each day.

This package owns the daily-counts table. `cells` names the series and what one change
adds (a tally: one to each of its cells, under a marker); `counting` says what a stream
record of the consent-events or address-events table tallies (plain values, no AWS);
`counter_store` adds tallies exactly once however often a record is delivered; and
`daily` reads a series of days back with one Query per series, whatever the number of
profiles or addresses. The publisher counts each batch it published; the feedback
function counts e-mail deliveries, which write no event; the analysis's last steps
count the analyses that ended.
"""
