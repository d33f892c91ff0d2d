"""A profile's consent: the rules of opt-in and opt-out and their hash-chained proof, the
profile store, services and subscriptions, and the signed links recipients follow."""
