"""The declarative base and the column types every table shares."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import (
    DateTime,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, mapped_column

pk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
# Sender data is TEXT: PostgreSQL enforces VARCHAR lengths, and a long value must never turn
# a valid message into a storage failure. Lengths are the certification rules' business.
code = Annotated[str, mapped_column(String(20), default="")]  # values the hub itself sets
text = Annotated[str, mapped_column(Text, default="")]
stamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints alike."""

    metadata = MetaData(naming_convention=NAMING)
