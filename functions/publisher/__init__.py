"""The publisher: the consent-events and address-events streams onto the event bus."""
