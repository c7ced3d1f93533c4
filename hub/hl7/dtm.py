"""HL7 DTM/TS/DT values (``YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]``) to ISO 8601 text."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?")


@lru_cache(maxsize=8192)  # timestamps repeat within and across messages
def to_iso(value: str) -> str | None:
    """ISO 8601 text at the precision sent, or None when `value` is not a valid DTM."""
    m = _DTM.fullmatch(value.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    try:
        if hour is None:
            if day is None:
                if month is None:
                    return year
                date(int(year), int(month), 1)
                return f"{year}-{month}"
            return date(int(year), int(month), int(day)).isoformat()
        micro = int((frac or "0").ljust(6, "0")[:6])
        tzinfo = None
        if tz:
            sign = 1 if tz[0] == "+" else -1
            offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
            tzinfo = timezone(sign * offset)
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0), micro, tzinfo)
    except ValueError:
        return None
    spec = "minutes" if second is None else ("seconds" if not frac else "milliseconds")
    return dt.isoformat(timespec=spec)
