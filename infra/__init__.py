"""Infrastructure that is not Lambda code: the ASL definitions and the local stack."""
