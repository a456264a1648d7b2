"""Placeholder package docstring; the owning module fills this in."""
