"""numpygam.functional.conv: the textbook conv2d (im2col) computes what conv2d_by_loops computes."""
from hypothesis import given

import numpygam.functional as F
from oracle import assert_close, conv_cases

# conv2d_forward/_backward against finite differences and PyTorch, float32 and dtypes: with
# the fast floor's methods in tests/fast/test_conv.py (PAIRS, this one named "reference")


@given(case=conv_cases())
def test_the_loops_compute_what_im2col_computes(case):
    """conv2d_by_loops is the formula as written; im2col must agree with it."""
    x, W, b, opts = case
    assert_close(F.conv2d_by_loops(x, W, b, **opts), F.conv2d_forward(x, W, b, **opts)[0])
