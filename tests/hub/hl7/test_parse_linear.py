"""An ED value cut by bare CRs is joined once, whatever the number of lines: parsing stays linear.

Counted, not timed: the pure-Python parser (the reference) builds one Segment per segment line
and one more per OBX whose value it joins. Joining line by line re-split the whole segment for
each line, so a 1 MiB frame cut every 150 characters took seconds of the writer thread.
"""

from __future__ import annotations

import subprocess
import sys

from servers import ROOT

_COUNT = """
import base64, sys
sys.path.insert(0, "tests/support")
from pure import prefer_sources
prefer_sources()
import hub.hl7.parser as parser
built = [0]
Original = parser.Segment
class Counting(Original):
    __slots__ = ()
    def __init__(self, *args):
        built[0] += 1
        super().__init__(*args)
parser.Segment = Counting
body = base64.b64encode(b"x" * 750_000).decode()
lines = [body[i:i + 150] for i in range(0, len(body), 150)]
msg = "MSH|^~\\\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\\rPID|1||1\\rOBR|1\\rOBX|1|ED|X||^AP^PDF^Base64^"
m = parser.parse(msg + "\\r".join(lines) + "\\r")
assert parser.__file__.endswith(".py")
print(len(lines), built[0], len(m.segments), len(m.segments[-1].fields[5]))
"""


def test_a_one_mib_ed_cut_every_150_characters_is_joined_once() -> None:
    """6,667 continuation lines: 4 segments built, plus 1 for the join (line by line made 6,670)."""
    out = subprocess.run([sys.executable, "-c", _COUNT], cwd=ROOT, capture_output=True, text=True, check=True)
    lines, built, segments, value = (int(v) for v in out.stdout.split())
    assert lines > 6000 and segments == 4
    assert built == segments + 1
    assert value > 1_000_000
