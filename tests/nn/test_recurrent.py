"""numpygam.nn.recurrent: nn.GRU against torch.nn.GRU on padded batches, one or both directions."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numpygam import nn
from oracle import arrays, assert_close, t


@pytest.mark.parametrize("bidirectional", [False, True])
@given(data=st.data())
def test_gru_matches_torch_on_padded_batches(bidirectional, data):
    B, T, In, H = (data.draw(st.integers(1, 4)) for _ in range(4))
    lengths = np.array(data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    torch.manual_seed(data.draw(st.integers(0, 100)))
    theirs = torch.nn.GRU(In, H, batch_first=True, bidirectional=bidirectional)
    ours = nn.GRU(In, H, bidirectional=bidirectional).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    D = 2 if bidirectional else 1
    x, h0 = data.draw(arrays((B, T, In))), data.draw(arrays((D, B, H)))
    out, h_n = ours(x, h0, lengths)
    dout, dh_n = data.draw(arrays(out.shape)), data.draw(arrays(h_n.shape))
    dx, dh0 = ours.backward(dout, dh_n)
    xt, h0t = t(x), t(h0)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths),
                                                     batch_first=True, enforce_sorted=False)
    out_t, h_n_t = theirs(packed, h0t)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True, total_length=T)
    (torch.sum(out_t * torch.as_tensor(dout)) + torch.sum(h_n_t * torch.as_tensor(dh_n))).backward()
    assert_close(out, out_t, name="output")
    assert_close(h_n, h_n_t, name="h_n")
    assert_close(dx, xt.grad, name="dx")
    assert_close(dh0, h0t.grad, name="dh0")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(params[name].grad, p.grad, name=name)


def test_padding_never_changes_the_real_tokens(rng):
    gru = nn.GRU(3, 4, bidirectional=True).to(np.float64)
    x = rng.standard_normal((1, 4, 3))
    padded = np.concatenate([x, rng.standard_normal((1, 3, 3))], axis=1)  # garbage padding
    out, h = gru(x, None, np.array([4]))
    out_p, h_p = gru(padded, None, np.array([4]))
    np.testing.assert_allclose(out_p[:, :4], out, rtol=1e-12)
    assert np.all(out_p[:, 4:] == 0)
    np.testing.assert_allclose(h_p, h, rtol=1e-12)
