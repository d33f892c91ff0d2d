"""What every domain builds on: identifiers, settings, errors, the clock, observability,
pagination, and the one way stores talk to DynamoDB."""
