"""Coverage-guided fuzzing of decode + parse + header + structure check with atheris.

Any exception other than our own HL7Error is a finding. Run by `make fuzz` (long) and, for a
few seconds, by the test suite (tests/fuzz/test_atheris.py). Usage::

    python tests/fuzz/atheris_parser.py -max_total_time=60 [corpus_dir]
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from pure import prefer_sources

prefer_sources()  # atheris instruments bytecode, never mypyc's C: fuzz the .py sources

with atheris.instrument_imports():
    from certification.conformance import validate_structure
    from hub.hl7 import HL7Error, decode, parse, read_header


assert all(
    (sys.modules[name].__file__ or "").endswith(".py") for name in ("hub.hl7.parser", "certification.structure")
), "the fuzz target must run the pure-Python modules"


def one_input(data: bytes) -> None:
    """Feed one input to the parser chain."""
    try:
        msg = parse(decode(data).text)
        header = read_header(msg)
        if header.version in ("2.3", "2.4", "2.5", "2.5.1"):
            validate_structure(msg, header.version)
    except HL7Error:
        return


def main() -> None:
    """LibFuzzer entry point."""
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
