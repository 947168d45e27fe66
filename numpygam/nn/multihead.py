"""nn.MultiheadAttention, a drop-in for torch.nn.MultiheadAttention(batch_first=True)."""
import math

import numpy as np

from .. import fast
from .. import functional as F
from ..functional._checks import dim_equal, float_array
from . import init
from .linear import Linear
from .module import Module, Parameter, add_grads, data, positive_ints


class MultiheadAttention(Module):
    """Multi-head attention with torch's parameters, names and mask semantics.

    Parameters: in_proj_weight (3E, E), in_proj_bias (3E,), out_proj.weight (E, E),
    out_proj.bias (E,), initialised as torch does (Xavier-uniform in_proj, zero biases).

    forward(query (B, Tq, E), key (B, Tk, E), value (B, Tk, E), key_padding_mask=None,
            need_weights=True, attn_mask=None, average_attn_weights=True)
        -> (out (B, Tq, E), weights (B, Tq, Tk) averaged over heads, or (B, H, Tq, Tk),
            or None when need_weights is False)
    The masks follow torch, where True means "may NOT attend" (the opposite of
    numpygam.functional's masks), and a float mask is added to the scores:
        key_padding_mask: (B, Tk), bool (True = padding) or float
        attn_mask: (Tq, Tk) or (B*H, Tq, Tk), bool (True = not allowed) or float
    A query with no allowed key gets a zero output row where torch gives NaN.
    backward(dout, dweights=None) -> (dquery, dkey, dvalue); for self-attention
    (query is key is value) the input's gradient is their sum.

    self.fast (nn.Module's switch, True by default): numpygam.fast's op, a large batch in
    shares, one per core, forward and backward (the same numbers as one call, the
    parameter gradients up to the order of a sum); False: the textbook op.
    """

    def __init__(self, embed_dim, num_heads, bias=True, dtype=np.float32, rng=None):
        positive_ints("MultiheadAttention", embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                             f"by num_heads ({num_heads})")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        bound = math.sqrt(6 / (embed_dim + 3 * embed_dim))  # xavier_uniform on (3E, E)
        self.in_proj_weight = Parameter(init.uniform((3 * embed_dim, embed_dim), bound, rng, dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, rng=rng)
        if bias:
            self.out_proj.bias.data[:] = 0

    def _masks(self, key_padding_mask, attn_mask, B, Tq, Tk):
        """torch's two masks as numpygam's (allowed: bool, bias: float), each
        broadcastable to (B, H, Tq, Tk), or None."""
        H = self.num_heads
        allowed = bias = None
        for name, given, shapes in (
                ("key_padding_mask", key_padding_mask, {(B, Tk): lambda m: m[:, None, None, :]}),
                ("attn_mask", attn_mask, {(Tq, Tk): lambda m: m[None, None],
                                          (B * H, Tq, Tk): lambda m: m.reshape(B, H, Tq, Tk)})):
            if given is None:
                continue
            m = np.asarray(given)
            if m.shape not in shapes or m.dtype.kind not in "bf":
                raise ValueError(f"MultiheadAttention: {name} must be bool or float of shape "
                                 f"{' or '.join(map(str, shapes))}, got {m.dtype} {m.shape}")
            m = shapes[m.shape](m)
            if m.dtype == np.bool_:
                allowed = ~m if allowed is None else allowed & ~m
            else:
                bias = m if bias is None else bias + m
        return allowed, bias

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True):
        # checked here, on the whole batch, so that an error names its shapes (not a share's)
        op = "MultiheadAttention"
        for name, x in (("query", query), ("key", key), ("value", value)):
            float_array(op, name, x, ndim=3)
        B, Tq, E = query.shape
        dim_equal(op, "query.shape[2] must equal embed_dim", E, self.embed_dim)
        dim_equal(op, "key.shape must equal value.shape", key.shape, value.shape)
        dim_equal(op, "key.shape must be (B, Tk, E), with the query's B and E",
                  (len(key), key.shape[2]), (B, E))
        mask, bias = self._masks(key_padding_mask, attn_mask, B, Tq, key.shape[1])
        if bias is not None:
            bias = bias.astype(query.dtype)
        args = (query, key, value, self.in_proj_weight.data, data(self.in_proj_bias),
                self.out_proj.weight.data, data(self.out_proj.bias), self.num_heads)
        if self.fast:   # the batch in shares, one per core; the weights as asked, per share
            wanted = ("mean" if average_attn_weights else "per head") if need_weights else None
            (out, weights), cache = fast.multi_head_attention_forward(*args, mask=mask,
                                                                      bias=bias, weights=wanted)
        else:           # the textbook: projections, heads, attention, merge, projection
            (out, weights), cache = F.multi_head_attention_forward(*args, mask=mask, bias=bias)
            if need_weights and average_attn_weights:
                weights = weights.mean(axis=1)
        H, Tk = self.num_heads, key.shape[1]
        weights_shape = (B, Tq, Tk) if average_attn_weights else (B, H, Tq, Tk)
        self.push_cache((self.fast, cache, average_attn_weights, weights_shape))
        return out, weights if need_weights else None

    def backward(self, dout, dweights=None):
        cache = self.pop_cache()
        was_fast, op_cache, averaged, weights_shape = cache
        if dweights is not None and np.shape(dweights) != weights_shape:
            self.push_cache(cache)  # a corrected retry still finds it
            raise ValueError(f"MultiheadAttention.backward: dweights has shape "
                             f"{np.shape(dweights)}, expected {weights_shape} (the shape of the "
                             f"weights the forward returned); nothing was changed")
        H = self.num_heads
        if dweights is not None and averaged:   # the mean over heads, backward
            dweights = np.repeat(dweights[:, None] / H, H, axis=1)
        backward = fast.multi_head_attention_backward if was_fast else \
            F.multi_head_attention_backward
        dq, dk, dv, dW_in, db_in, dW_out, db_out = backward((dout, dweights), op_cache)
        add_grads((self.in_proj_weight, dW_in), (self.in_proj_bias, db_in),
                  (self.out_proj.weight, dW_out), (self.out_proj.bias, db_out))
        return dq, dk, dv

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

