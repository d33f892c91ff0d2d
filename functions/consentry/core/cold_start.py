"""A handler's init: the cyclic garbage collector held while the handler's modules load.

Importing a handler makes 75,000-95,000 objects the collector tracks (modules, classes,
functions, compiled patterns, models), which live as long as the process. The
collector, counting allocations, ran over a hundred collections during the import
(8-10 of the middle generation, and a full one for the web functions) and freed next
to nothing: 15-35 ms of a cold start (bench.coldstart). So every handler module
imports this module before anything else, which pauses the collector, and calls
`loaded()` at its end, which sets those objects aside and starts it again.
`tests/contract/test_cold_start.py` checks that each handler of the template does
both: no collection during its import or due right after it, the collector on.
"""

import gc

_WAS_ENABLED = gc.isenabled()
gc.disable()


def loaded() -> None:
    """The handler's modules are in: set what they made aside, then collect as before.

    Paused, the collector still counts allocations, so the first one after `enable`
    would start a collection of everything the import made, in the first request.
    `gc.freeze` moves those objects out of the collector's generations for good
    (they live as long as the process anyway) and starts the count again."""
    gc.freeze()
    if _WAS_ENABLED:
        gc.enable()
