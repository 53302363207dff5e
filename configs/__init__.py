"""Configs: one per method, each `get_config(arg)` returning an ml_collections.ConfigDict."""
