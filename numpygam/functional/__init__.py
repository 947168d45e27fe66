"""numpygam.functional: the math, as stateless forward/backward pairs.

    out, cache = op_forward(*inputs, **options)
    grads = op_backward(dout, cache)

Masks: every boolean mask in numpygam.functional means True = may attend,
F.causal_mask(T) included (the lower triangle).  The nn modules that mirror
torch.nn (MultiheadAttention, the Transformer layers) keep PyTorch's module
convention, True = may NOT attend, and convert to this one in one place
(nn.MultiheadAttention._masks).

This is the textbook floor: each op's body is its formula and nothing else (no
threads, batch shares, DFTs or allocator settings), and nothing here imports
numpygam.fast, the floor beside it where the same ops are computed faster.

Each op lives in the file named after its topic; its docstring states the
forward formula, the backward formula and every shape.  The imports below are
in reading order (topic by topic), not alphabetical.
"""
from .activations import (gelu_backward, gelu_forward, relu_backward, relu_forward,
                          sigmoid_backward, sigmoid_forward, stable_sigmoid, tanh_backward,
                          tanh_forward)
from .embedding import embedding_backward, embedding_forward
from .linear import linear_backward, linear_forward
from .loss import cross_entropy_backward, cross_entropy_forward
from .softmax import (log_softmax_backward, log_softmax_forward, logsumexp,
                      softmax_backward, softmax_forward)
from .attention import (attention_backward, attention_forward, context_backward,
                        context_forward)
from .luong import (attentional_hidden_backward, attentional_hidden_forward,
                    local_p_attention_backward, local_p_attention_forward, local_p_positions,
                    local_window_mask)
from .multihead import multi_head_attention_backward, multi_head_attention_forward
from .scores import (SCORES, additive_score_backward, additive_score_forward, concat_score_backward,
                     concat_score_forward, dot_score_backward, dot_score_forward,
                     general_score_backward, general_score_forward, location_score_backward,
                     location_score_forward, score_backward, score_forward)
from .conv import conv2d_backward, conv2d_by_loops, conv2d_forward
from .gam import (channel_gate_backward, channel_gate_forward, spatial_gate_backward,
                  spatial_gate_forward)
from .norm import (batch_norm2d_backward, batch_norm2d_forward, batch_norm_apply, batch_norm_dx,
                   batch_norm_moments, batch_norm_sums)
from .padding import pad2d_backward, pad2d_forward
from .pool import (avg_pool2d_backward, avg_pool2d_forward, global_avg_pool_backward,
                   global_avg_pool_forward, max_pool2d_backward, max_pool2d_forward)
from .shuffle import channel_shuffle_backward, channel_shuffle_forward
from .gru import gru_backward, gru_cell_backward, gru_cell_forward, gru_forward, reversal_index
from .layer_norm import layer_norm_backward, layer_norm_forward
from .dropout import dropout_backward, dropout_forward
from .positional import causal_mask, sinusoidal_positions
