"""numpygam.functional.shuffle: the channel shuffle is PyTorch's, and its backward is its inverse."""
import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from oracle import arrays


@given(data=st.data())
def test_channel_shuffle_matches_torch(data):
    g = data.draw(st.integers(1, 4))
    x = data.draw(arrays((2, g * data.draw(st.integers(1, 3)), 2, 3)))
    y, cache = F.channel_shuffle_forward(x, g)
    np.testing.assert_array_equal(y, torch.nn.ChannelShuffle(g)(torch.as_tensor(x)).numpy())
    np.testing.assert_array_equal(F.channel_shuffle_backward(y, cache), x)  # the inverse
