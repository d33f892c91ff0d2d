"""SES account-level suppression kept in step with the address quarantine."""
