"""The store: schema, migrations and the only code that touches DuckDB."""

from carewarden.store.store import SourceFile, Store

__all__ = ["SourceFile", "Store"]
