"""The table of twins: every fast op beside the textbook op it must equal.

    Twin(name, textbook, fast, example, options)

textbook, fast: (forward, backward) pairs with the same contract (arguments, result,
                cache's role, gradients in the forward's order, errors)
example:        the name of the numpygam.examples entry whose inputs both are called on
options:        keyword options given to the fast forward only (e.g. a conv2d method)

tests/fast/test_twins.py generates its tests from this table: values and every
gradient equal (float32 and float64, whole batches and forced into shares), the same
errors for the same bad inputs.  A new fast op is one row here.
"""
from collections import namedtuple

from .. import functional as F
from . import attention, conv, gam, linear, multihead, scores, softmax

Twin = namedtuple("Twin", "name textbook fast example options", defaults=({},))

TWINS = (
    Twin("linear", (F.linear_forward, F.linear_backward),
         (linear.linear_forward, linear.linear_backward), "linear"),
    *(Twin(name, (F.softmax_forward, F.softmax_backward),
           (F.softmax_forward, softmax.softmax_backward), name)
      for name in ("softmax", "softmax (a fully masked row)")),
    *(Twin(f"conv2d ({method}, {size})", (F.conv2d_forward, F.conv2d_backward),
           (conv.conv2d_forward, conv.conv2d_backward), example, {"method": method})
      for method, size, example in (("gemm", "3x3", "conv2d"), ("dft", "3x3", "conv2d"),
                                    ("auto", "7x7", "conv2d (7x7)"),
                                    ("gemm", "7x7", "conv2d (7x7)"))),
    Twin("channel_gate", (F.channel_gate_forward, F.channel_gate_backward),
         (gam.channel_gate_forward, gam.channel_gate_backward), "channel_gate"),
    Twin("spatial_gate", (F.spatial_gate_forward, F.spatial_gate_backward),
         (gam.spatial_gate_forward, gam.spatial_gate_backward), "spatial_gate"),
    Twin("spatial_gate (7x7, eval)", (F.spatial_gate_forward, F.spatial_gate_backward),
         (gam.spatial_gate_forward, gam.spatial_gate_backward), "spatial_gate (7x7, eval)"),
    *(Twin(name, (getattr(F, f"{op}_forward"), getattr(F, f"{op}_backward")),
           (getattr(scores, f"{op}_forward"), getattr(scores, f"{op}_backward")), name)
      for name, op in (("general_score", "general_score"), ("concat_score", "concat_score"),
                       ("additive_score", "additive_score"),
                       ("additive_score (no bias)", "additive_score"),
                       ("location_score", "location_score"))),
    *(Twin(name, (F.context_forward, F.context_backward),
           (F.context_forward, attention.context_backward), name)
      for name in ("context", "context (one query)")),
    *(Twin(name, (F.attention_forward, F.attention_backward),
           (attention.attention_forward, attention.attention_backward), name)
      for name in ("attention", "attention (additive)")),
    Twin("multi_head_attention",
         (F.multi_head_attention_forward, F.multi_head_attention_backward),
         (multihead.multi_head_attention_forward, multihead.multi_head_attention_backward),
         "multi_head_attention"),
)
