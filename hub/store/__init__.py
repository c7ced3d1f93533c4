"""The central repository: tables, engines, the driver-level writer, record batches, read models."""
