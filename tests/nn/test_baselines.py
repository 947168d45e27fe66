"""numpygam.nn.baselines: nn.SEBlock and nn.CBAM against PyTorch, weights copied via state_dict."""
import numpy as np
import pytest

from numpygam import nn
from oracle import compare, randomise
from torch_models import CBAM, SE


@pytest.mark.parametrize("ours_cls, theirs_cls", [(nn.SEBlock, SE), (nn.CBAM, CBAM)])
def test_se_and_cbam_match_torch(ours_cls, theirs_cls, rng):
    theirs = theirs_cls(6, 2)
    randomise(theirs, 3)
    ours = ours_cls(6, 2).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    compare(ours, theirs, rng.standard_normal((2, 6, 5, 4)), 2, rng)
