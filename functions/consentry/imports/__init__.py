"""Bulk imports of consent flags and address statuses from CSV files: how a file and
its rows read, and the import records."""
