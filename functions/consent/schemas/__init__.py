"""The JSON shapes of the operator API, one module per section of /v1 (and `fields`, the
field types they share): camelCase on the wire, documented in the OpenAPI. A request
loads its own section's shapes, not every section's."""
