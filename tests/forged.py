"""Files forged for the tests that attack what numpygam reads."""
import io

import numpy as np


def npy_claiming(count):
    """The bytes of a .npy file whose header claims `count` float64 values while its body
    holds one: what a loader must refuse before it allocates (count * 8 bytes)."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(1))
    raw = buffer.getvalue()
    old, new = b"(1,), }", f"({count},), }}".encode()
    end = raw.index(b"\n")  # the header's padding shrinks so that its length stays the same
    start = raw.index(old)
    return raw[:start] + new + raw[start + len(old):end - (len(new) - len(old))] + raw[end:]
