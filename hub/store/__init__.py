"""The central repository: tables, engines, the driver-level writer, record batches, read models.

Other packages use the names below; the migrations run through `upgrade` and `ensure_schema`.
"""

from .db import SchemaError, ensure_schema, make_engine, schema_state, upgrade, writer_lock
from .driver import Driver
from .queries import find_patients, list_messages, patient_record
from .records import RecordBatch

__all__ = [
    "Driver",
    "RecordBatch",
    "SchemaError",
    "ensure_schema",
    "find_patients",
    "list_messages",
    "make_engine",
    "patient_record",
    "schema_state",
    "upgrade",
    "writer_lock",
]
