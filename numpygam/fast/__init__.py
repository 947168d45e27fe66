"""numpygam.fast: the fast floor, beside the textbook (numpygam.functional).

Every op here computes a textbook op's formula faster (a GEMM or DFT convolution, a
batch split across the cores, a product folded or re-associated) and keeps its
contract: the same arguments, result, gradients and errors.  Each names its textbook
twin and its measured gain in its docstring, and TWINS lists every pair, from which
the tests check them equal.  The textbook floor imports nothing from here.

    conv.py        conv2d_forward / _backward, method "auto" (GEMM or DFT; conv_gemm.py,
                   conv_dft.py), the DFT in batch shares where the channels are few
    gam.py         channel_gate_* (a 1 x 1 convolution, no permutation),
                   spatial_gate_* (in batch shares, batch norm's sums put together)
    scores.py      general, additive (the projected form at the core), concat, location
    attention.py   context_backward for one query, attention_* with the fast scores
    multihead.py   multi_head_attention_* in batch shares
    linear.py      linear_*: the bias added in place, db as one BLAS product
    softmax.py     softmax_backward with the row sums by np.vecdot, in place
    matmul.py      matmul_last: x (..., n) @ M (n, m) as one matrix product
    parallel.py    batch shares on threads, BLAS held to one thread meanwhile
    memory.py      keep_freed_memory(): glibc's malloc keeps freed memory (opt in)
    twins.py       TWINS: (name, textbook, fast, example, options), one row a pair

Importing numpygam.fast changes nothing in the process either: threadpoolctl is
loaded by the first call that asks how many shares a batch gets (any fast op that may
split one), the thread pool and its fork hook come with the first batch split, and
malloc is changed only by keep_freed_memory().
"""
from . import attention, conv, gam, linear, memory, multihead, parallel, scores, softmax
from .attention import attention_backward, attention_forward, context_backward
from .conv import conv2d_backward, conv2d_forward
from .gam import (channel_gate_backward, channel_gate_forward, spatial_gate_backward,
                  spatial_gate_forward)
from .linear import linear_backward, linear_forward
from .matmul import matmul_last
from .multihead import multi_head_attention_backward, multi_head_attention_forward
from .scores import (additive_score_backward, additive_score_forward, concat_score_backward,
                     concat_score_forward, general_score_backward, general_score_forward,
                     location_score_backward, location_score_forward,
                     projected_additive_score_backward, projected_additive_score_forward)
from .softmax import softmax_backward
from .twins import TWINS, Twin
