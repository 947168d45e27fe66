"""numpygam.nn.resnet: nn.BasicBlock, with no attention, GAM, SE or CBAM, against PyTorch."""
import numpy as np
import pytest

from numpygam import nn
from oracle import compare, randomise
from torch_models import CBAM, SE, BasicBlock, BlogGAM


@pytest.mark.parametrize("cin, cout, stride, attention", [
    (4, 4, 1, None), (4, 6, 2, "gam"), (6, 6, 1, "se"), (4, 6, 2, "cbam")])
def test_basic_block_matches_torch(cin, cout, stride, attention, rng):
    ours_att = {"gam": lambda: nn.GAM(cout, rate=2), "se": lambda: nn.SEBlock(cout, 2),
                "cbam": lambda: nn.CBAM(cout, 2), None: lambda: None}[attention]()
    theirs_att = {"gam": lambda: BlogGAM(cout, cout, 2, paper=True), "se": lambda: SE(cout, 2),
                  "cbam": lambda: CBAM(cout, 2), None: lambda: None}[attention]()
    theirs = BasicBlock(cin, cout, stride, theirs_att)
    randomise(theirs, 4)
    ours = nn.BasicBlock(cin, cout, stride, ours_att).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    compare(ours, theirs, rng.standard_normal((2, cin, 6, 5)), 2, rng)
