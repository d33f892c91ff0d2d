"""The recipient pages' routes, one router per family of pages."""
