"""Shared domain code of Consentry: types, settings, models, rules, the store and tokens."""
