"""maplebench command line: a thin click layer over the `maple` library.

Installed as the package ``maplebench`` (see pyproject.toml), so ``python -m maplebench``
works. Subcommands live one per module and are imported only when invoked, which keeps
``maplebench --help`` instant (no pandas, scipy or matplotlib at start-up).
"""
