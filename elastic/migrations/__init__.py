"""The ledger's Alembic migration environment: ``env.py`` and ``versions/``, found through
``importlib.resources`` by ``elastic.migrate`` (no alembic.ini), so it works from a wheel.

Layer: I/O (schema changes of the ledger's database; run only by ``elastic.migrate``).
"""
