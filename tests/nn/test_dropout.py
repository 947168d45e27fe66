"""numpygam.nn.dropout: nn.Dropout is the identity in eval mode and refuses a bad p."""
import numpy as np
import pytest

from numpygam import nn


def test_dropout_module_is_the_identity_in_eval_mode_and_rejects_bad_p():
    d = nn.Dropout(0.5)
    x = np.ones((4, 4))
    assert (d(x) != x).any()
    d.eval()
    np.testing.assert_array_equal(d(x), x)
    with pytest.raises(ValueError, match="p is a probability"):
        nn.Dropout(1.5)
