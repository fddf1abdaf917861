"""Channel adapters: one per provider, all of the same small shape (see base.py)."""
