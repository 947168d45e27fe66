"""The Transformer (Vaswani et al. 2017) from numpygam's parts, as torch.nn.Transformer*.

An encoder layer (post-norm, PyTorch's default norm_first=False):
    x = LayerNorm(x + Dropout(SelfAttention(x)))           sub-layer 1 (sec. 3.1)
    x = LayerNorm(x + Dropout(FFN(x)))                     sub-layer 2
    FFN(x) = linear2(Dropout(activation(linear1(x))))      (eq. 2, plus PyTorch's inner dropout)
norm_first=True (pre-norm, PyTorch's option; Vaswani sec. 3.1 is post-norm) moves each
LayerNorm inside its branch:
    x = x + Dropout(SelfAttention(LayerNorm(x))),  x = x + Dropout(FFN(LayerNorm(x)))
A decoder layer has three sub-layers: masked self-attention, cross-attention
(queries from the decoder, keys and values from the encoder's output, the
"memory"), and the FFN.

Backward of a residual sub-layer y = x + f(x) is dx = dy + f'(dy): the
gradient flows both around the branch and through it; post-norm first goes
back through the LayerNorm.  Each sub-module keeps its own caches (module
rule: nn/module.py), so a layer's backward calls them in reverse order.

Constructor arguments, forward arguments, masks and state_dict names are
PyTorch's: a boolean mask's True means "may not attend" and a float mask is
added to the scores; `{k: v.numpy() for k, v in torch_module.state_dict().items()}`
loads unchanged.  Shapes with batch_first=True: src (B, S, E), tgt (B, T, E);
batch_first=False (PyTorch's default): (S, B, E), (T, B, E).
"""
import copy
import math

import numpy as np

from .. import functional as F
from . import init
from .activation import GELU, ReLU
from .dropout import Dropout
from .layer_norm import LayerNorm
from .linear import Linear
from .module import Module, Parameter, add_grads, positive_ints
from .multihead import MultiheadAttention

ACTIVATIONS = {"relu": ReLU, "gelu": GELU}


def _check_layer(name, d_model, nhead, dim_feedforward, dropout, activation):
    positive_ints(name, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward)
    if d_model % nhead:
        raise ValueError(f"{name}: d_model ({d_model}) must be divisible by nhead ({nhead})")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{name}: activation must be 'relu' or 'gelu', got {activation!r}")
    if not 0 <= dropout <= 1:
        raise ValueError(f"{name}: dropout is a probability in [0, 1], got {dropout!r}")


def _batch_first(x, batch_first):
    """(T, B, E) -> (B, T, E) unless it already is; the same swap undoes itself."""
    return x if batch_first else x.transpose(1, 0, 2)


def _copies(layer, n):
    """n deep copies of layer (PyTorch's _get_clones), each drawing its own dropout masks."""
    layers = [copy.deepcopy(layer) for _ in range(n)]
    for layer_copy in layers[1:]:
        Dropout.reseed(layer_copy, init.get_rng())
    return layers


def _causal_if(is_causal, mask, T):
    """is_causal without a mask: the causal mask, in this module's (PyTorch's) convention,
    True = may not attend, i.e. the complement of F.causal_mask's True = may attend."""
    return ~F.causal_mask(T) if is_causal and mask is None else mask


class _Layer(Module):
    """What both layers do alike: the self-attention block and the position-wise
    feed-forward network (PyTorch's _sa_block and the inside of its _ff_block)."""

    def _sa_block(self, x, attn_mask, key_padding_mask):
        """dropout1(SelfAttention(x)): the queries, keys and values are all x."""
        out, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                                need_weights=False)
        return self.dropout1(out)

    def _sa_block_backward(self, dy):
        dq, dk, dv = self.self_attn.backward(self.dropout1.backward(dy))
        return dq + dk + dv  # x was the query, the key and the value

    def _feed_forward(self, x):
        """FFN(x) = linear2(dropout(activation(linear1(x)))): eq. 2, with the inner
        dropout that PyTorch adds (Vaswani et al. have none there)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def _feed_forward_backward(self, dy):
        dh = self.dropout.backward(self.linear2.backward(dy))
        return self.linear1.backward(self.activation.backward(dh))


class TransformerEncoderLayer(_Layer):
    """Self-attention and feed-forward sub-layers, each with a residual and a LayerNorm.

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False) -> same shape
    backward(dout) -> dsrc
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=np.float32, rng=None):
        _check_layer("TransformerEncoderLayer", d_model, nhead, dim_feedforward, dropout,
                     activation)
        # PyTorch's order, so that state_dict keys come in its order
        self.self_attn = MultiheadAttention(d_model, nhead, bias=bias, dtype=dtype, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, rng=rng)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.activation = ACTIVATIONS[activation]()
        self.batch_first = batch_first

    def _ff_block(self, x):
        return self.dropout2(self._feed_forward(x))

    def _ff_block_backward(self, dy):
        return self._feed_forward_backward(self.dropout2.backward(dy))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = _batch_first(src, self.batch_first)
        mask = _causal_if(is_causal, src_mask, x.shape[1])
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), mask, src_key_padding_mask)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, mask, src_key_padding_mask))
            x = self.norm2(x + self._ff_block(x))
        return _batch_first(x, self.batch_first)

    def backward(self, dout):
        d = _batch_first(dout, self.batch_first)
        if self.norm_first:
            d = d + self.norm2.backward(self._ff_block_backward(d))
            d = d + self.norm1.backward(self._sa_block_backward(d))
        else:
            d = self.norm2.backward(d)
            d = self.norm1.backward(d + self._ff_block_backward(d))
            d = d + self._sa_block_backward(d)
        return _batch_first(d, self.batch_first)


class TransformerDecoderLayer(_Layer):
    """Masked self-attention, cross-attention over the memory, feed-forward; each with a
    residual and a LayerNorm.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)
        -> same shape as tgt.  After forward, self.cross_weights holds the
        cross-attention weights of each head, (B, nhead, T, S).
    backward(dout) -> (dtgt, dmemory)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=np.float32, rng=None):
        _check_layer("TransformerDecoderLayer", d_model, nhead, dim_feedforward, dropout,
                     activation)
        # PyTorch's order, so that state_dict keys come in its order
        self.self_attn = MultiheadAttention(d_model, nhead, bias=bias, dtype=dtype, rng=rng)
        self.multihead_attn = MultiheadAttention(d_model, nhead, bias=bias, dtype=dtype, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, rng=rng)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.dropout3 = Dropout(dropout, rng=rng)
        self.activation = ACTIVATIONS[activation]()
        self.batch_first = batch_first

    def _mha_block(self, x, memory, attn_mask, key_padding_mask):
        """dropout2(CrossAttention(x, memory)): queries from x, keys and values the memory."""
        out, self.cross_weights = self.multihead_attn(
            x, memory, memory, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
            average_attn_weights=False)
        return self.dropout2(out)

    def _mha_block_backward(self, dy):
        dq, dk, dv = self.multihead_attn.backward(self.dropout2.backward(dy))
        return dq, dk + dv  # the memory is both the keys and the values

    def _ff_block(self, x):
        return self.dropout3(self._feed_forward(x))

    def _ff_block_backward(self, dy):
        return self._feed_forward_backward(self.dropout3.backward(dy))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x, mem = _batch_first(tgt, self.batch_first), _batch_first(memory, self.batch_first)
        tgt_mask = _causal_if(tgt_is_causal, tgt_mask, x.shape[1])
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask))
            x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask))
            x = self.norm3(x + self._ff_block(x))
        return _batch_first(x, self.batch_first)

    def backward(self, dout):
        d = _batch_first(dout, self.batch_first)
        if self.norm_first:
            d = d + self.norm3.backward(self._ff_block_backward(d))
            dq, dmemory = self._mha_block_backward(d)
            d = d + self.norm2.backward(dq)
            d = d + self.norm1.backward(self._sa_block_backward(d))
        else:
            d = self.norm3.backward(d)
            d = self.norm2.backward(d + self._ff_block_backward(d))
            dq, dmemory = self._mha_block_backward(d)
            d = self.norm1.backward(d + dq)
            d = d + self._sa_block_backward(d)
        return _batch_first(d, self.batch_first), _batch_first(dmemory, self.batch_first)


class TransformerEncoder(Module):
    """num_layers copies of encoder_layer, then an optional final norm (PyTorch's names:
    layers.0, layers.1, ..., norm).

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None) -> same shape
    backward(dout) -> dsrc
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True):
        positive_ints("TransformerEncoder", num_layers=num_layers)
        self.layers = _copies(encoder_layer, num_layers)
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)

    def backward(self, dout):
        d = dout if self.norm is None else self.norm.backward(dout)
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return d


class TransformerDecoder(Module):
    """num_layers copies of decoder_layer, each reading the same memory, then an optional
    final norm (layers.0, ..., norm).

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)
    backward(dout) -> (dtgt, dmemory), dmemory summed over the layers
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        positive_ints("TransformerDecoder", num_layers=num_layers)
        self.layers = _copies(decoder_layer, num_layers)
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal))
        return x if self.norm is None else self.norm(x)

    def backward(self, dout):
        d = dout if self.norm is None else self.norm.backward(dout)
        dmemory = 0
        for layer in reversed(self.layers):
            d, dm = layer.backward(d)
            dmemory = dmemory + dm
        return d, dmemory


class Transformer(Module):
    """The encoder-decoder Transformer, torch.nn.Transformer's arguments and names
    (encoder.layers.i..., encoder.norm, decoder.layers.i..., decoder.norm).

    forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
            src_key_padding_mask=None, tgt_key_padding_mask=None,
            memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
            memory_is_causal=False) -> the decoder's output, tgt's shape
    backward(dout) -> (dsrc, dtgt)
    Weights of two or more axes are initialised Xavier-uniform, as PyTorch does.
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, dtype=np.float32, rng=None):
        layer_args = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                          dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                          batch_first=batch_first, norm_first=norm_first, bias=bias, dtype=dtype,
                          rng=rng)
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(**layer_args), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(**layer_args), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.data.ndim > 1:
                fan_out, fan_in = p.data.shape
                bound = math.sqrt(6 / (fan_in + fan_out))
                p.data = init.uniform(p.data.shape, bound, rng, p.data.dtype)

    @staticmethod
    def generate_square_subsequent_mask(sz, dtype=np.float32):
        """The float causal mask: 0 on and below the diagonal, -inf above (PyTorch's)."""
        return np.where(F.causal_mask(sz), 0, -np.inf).astype(dtype)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal)

    def backward(self, dout):
        dtgt, dmemory = self.decoder.backward(dout)
        return self.encoder.backward(dmemory), dtgt


class PositionalEncoding(Module):
    """x + P[:T], the position table added to token embeddings (batch first).

    learned=False: P = the sinusoids of numpygam.functional.positional (a constant);
    learned=True: P is a parameter `weight` (max_len, d_model), N(0, 1) at start.
    forward(x (B, T, d_model)) -> (B, T, d_model);  backward(dy) -> dx = dy
    (and, when learned, dweight[:T] += sum over the batch of dy).
    """

    def __init__(self, d_model, max_len=512, learned=False, dtype=np.float32, rng=None):
        positive_ints("PositionalEncoding", d_model=d_model, max_len=max_len)
        self.d_model, self.max_len, self.learned = d_model, max_len, learned
        if learned:
            self.weight = Parameter(init.normal((max_len, d_model), rng, dtype))
        else:
            self.table = F.sinusoidal_positions(max_len, d_model, dtype)

    def forward(self, x):
        T = x.shape[1]
        if T > self.max_len:
            raise ValueError(f"PositionalEncoding: the sequence has {T} positions, more than "
                             f"max_len={self.max_len}")
        table = self.weight.data if self.learned else self.table
        self.push_cache(T)
        return x + table[:T].astype(x.dtype, copy=False)

    def backward(self, dy):
        T = self.pop_cache()
        if self.learned:
            grad = np.zeros_like(self.weight.data)
            grad[:T] = dy.sum(axis=0)
            add_grads((self.weight, grad))
        return dy
