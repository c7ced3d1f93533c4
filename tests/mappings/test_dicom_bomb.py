"""A deflate bomb is refused with a clear error, before pydicom inflates it whole."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID

from mappings.dicom import DEFLATED, INFLATE_CAP, DicomError, read_dicom


def _bomb(inflated_mib: int) -> bytes:
    """A Part 10 file, Deflated Explicit VR LE, whose dataset inflates to one OB of zeros."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.7")
    meta.MediaStorageSOPInstanceUID = UID("1.2.3.4")
    meta.TransferSyntaxUID = UID(DEFLATED)
    fp = io.BytesIO()
    write_file_meta_info(fp, meta, enforce_standard=True)  # type: ignore[arg-type]  # any binary file works
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [deflate.compress(struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, inflated_mib << 20))]
    zeros = bytes(1 << 20)
    parts += [deflate.compress(zeros) for _ in range(inflated_mib)]
    parts.append(deflate.flush())
    return b"\0" * 128 + b"DICM" + fp.getvalue() + b"".join(parts)


def test_a_deflate_bomb_is_refused_without_growing_memory() -> None:
    """About 500 KiB that inflate to 512 MiB: DicomError naming the cap; the read allocates a few MiB."""
    bomb = _bomb(512)
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DicomError, match="inflates past"):
            read_dicom(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, peak  # measured: 3 MiB; pydicom inflating it whole takes 512 MiB
    assert INFLATE_CAP < 512 << 20
