"""Every op and module of the library, gradient-checked on small random inputs.

`python -m numpygam check` runs this list: every functional op on its example
inputs (numpygam/examples.py, the table the homework shares), then every
module.  Each entry is a name and a function that returns a GradcheckReport.
"""
import numpy as np

from . import functional as F
from . import nn
from .examples import examples
from .gradcheck import gradcheck, gradcheck_module


def _cases(rng):
    """[(name, a function that returns its GradcheckReport)]: every op, then every module."""
    def r(*shape):
        return rng.standard_normal(shape)

    def distinct(*shape):  # values 0.1 apart: no ties within a max-pooling window
        return rng.permutation(np.prod(shape)).reshape(shape) * 0.1

    ops = [(name, lambda e=e: gradcheck(e.forward, e.backward, e.inputs, e.options, h=e.h))
           for name, e in examples(rng).items()]
    nn.manual_seed(0)
    return ops + [
        ("nn.Linear", lambda: gradcheck_module(nn.Linear(4, 3), [r(2, 4)])),
        ("nn.Sequential", lambda: gradcheck_module(
            nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid()), [r(2, 4)])),
        ("nn.Embedding", lambda: gradcheck_module(nn.Embedding(6, 3, padding_idx=0),
                                                  [np.array([[1, 2], [5, 2]])])),
        *[(f"nn.Attention({score})", lambda score=score: gradcheck_module(
            nn.Attention(score, 4, 6, attn_dim=5, num_keys=5), [r(2, 3, 4), r(2, 5, 6), r(2, 5, 3)]))
          for score, entry in F.SCORES.items() if entry.params],
        ("nn.Attention(scaled_dot)", lambda: gradcheck_module(nn.Attention("scaled_dot", 4),
                                                              [r(2, 3, 4), r(2, 5, 4)])),
        ("nn.AttentionalHidden", lambda: gradcheck_module(nn.AttentionalHidden(3, 4),
                                                          [r(2, 3), r(2, 4)])),
        ("nn.LocalAttention(m)", lambda: gradcheck_module(nn.LocalAttention("m", 1, "dot", 4),
                                                          [r(2, 3, 4), r(2, 5, 4)])),
        ("nn.LocalAttention(p)", lambda: gradcheck_module(
            nn.LocalAttention("p", 6, "general", 4), [r(2, 3, 4), r(2, 6, 4)])),
        ("nn.MultiheadAttention", lambda: gradcheck_module(nn.MultiheadAttention(4, 2),
                                                           [r(2, 3, 4), r(2, 5, 4), r(2, 5, 4)])),
        # GAM's 7x7 kernels make each parameter cost two forwards: small channel counts
        *[(f"nn.GAM({variant}, groups={g})", lambda variant=variant, g=g: gradcheck_module(
            nn.GAM(4, rate=2, variant=variant, groups=g), [r(2, 4, 3, 4)], h=1e-5))
          for variant, g in (("paper", 1), ("blog", 1), ("paper", 2))],
        ("nn.GAM(eval)", lambda: gradcheck_module(nn.GAM(4, rate=2).eval(), [r(1, 4, 1, 3)],
                                                  h=1e-5)),
        ("nn.SEBlock", lambda: gradcheck_module(nn.SEBlock(8, 4), [r(2, 8, 3, 4)], h=1e-5)),
        ("nn.CBAM", lambda: gradcheck_module(nn.CBAM(8, 4), [distinct(2, 8, 3, 4)], h=1e-5)),
        ("nn.BasicBlock", lambda: gradcheck_module(
            nn.BasicBlock(4, 4, stride=2, attention=nn.GAM(4, rate=4)), [r(1, 4, 4, 4)], h=1e-5)),
        ("nn.GRU(bidirectional)", lambda: gradcheck_module(
            nn.GRU(3, 4, bidirectional=True), [r(3, 5, 3), r(2, 3, 4), np.array([5, 1, 3])])),
        *[(f"Seq2Seq({attention}, {score})", lambda attention=attention, score=score:
           _seq2seq_check(attention, score))  # every other pairing: tests/nn/test_seq2seq.py
          for attention, score in (("bahdanau", "additive"), ("luong", "general"))],
        ("nn.Conv2d", lambda: gradcheck_module(nn.Conv2d(3, 4, 2, stride=2, padding=1),
                                               [r(2, 3, 5, 4)])),
        ("nn.BatchNorm2d", lambda: gradcheck_module(nn.BatchNorm2d(3), [r(2, 3, 2, 2)])),
        ("nn.MaxPool2d", lambda: gradcheck_module(nn.MaxPool2d(2), [distinct(2, 3, 4, 4)])),
        ("nn.LayerNorm", lambda: gradcheck_module(nn.LayerNorm(5), [r(2, 3, 5)])),
        ("nn.PositionalEncoding", lambda: gradcheck_module(
            nn.PositionalEncoding(4, max_len=6, learned=True), [r(2, 3, 4)])),
        *[(f"nn.TransformerEncoderLayer({'pre' if nf else 'post'}-norm, {act})",
           lambda nf=nf, act=act: gradcheck_module(nn.TransformerEncoderLayer(
               4, 2, 6, dropout=0.0, activation=act, batch_first=True, norm_first=nf),
               [r(2, 3, 4), None, np.array([[False, False, True], [False, False, False]])],
               h=1e-5))  # h: ReLU's kink may sit near an input
          for nf, act in ((False, "relu"), (True, "gelu"))],
        *[(f"nn.TransformerDecoderLayer({'pre' if nf else 'post'}-norm)",
           lambda nf=nf: gradcheck_module(nn.TransformerDecoderLayer(
               4, 2, 6, dropout=0.0, batch_first=True, norm_first=nf),
               [r(2, 3, 4), r(2, 5, 4), ~F.causal_mask(3)], h=1e-5))
          for nf in (False, True)],
        ("nn.Transformer", lambda: gradcheck_module(nn.Transformer(
            4, 2, 1, 2, 6, dropout=0.0, batch_first=True), [r(2, 5, 4), r(2, 3, 4), None,
                                                           ~F.causal_mask(3)], h=1e-5)),
    ]


def _seq2seq_check(attention, score):
    """The whole encoder-decoder's loss against every one of its parameters."""
    from .tasks import copy_task, make_batch
    pairs, vocab = copy_task(3, seed=5, min_len=2, max_len=5)
    batch = make_batch(pairs, vocab, vocab)
    model = nn.Seq2Seq(len(vocab), len(vocab), 3, 2, 4, attention, score, attn_dim=3)
    return gradcheck_module(nn.SequenceLoss(model),
                            [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out], h=1e-5)


def run_checks(seed=0, only=None):
    """Run every check (or those whose name contains `only`); return [(name, report)]."""
    rng = np.random.default_rng(seed)
    return [(name, check()) for name, check in _cases(rng) if only is None or only in name]


def format_table(results):
    lines = [f"{'op':<20} {'input':<14} {'worst rel. error':>16}  result"]
    for name, report in results:
        for row in report.inputs:
            lines.append(f"{name:<20} {row.name:<14} {row.max_rel_error:>16.2e}  "
                         f"{'pass' if row.passed else 'FAIL: ' + row.verdict()}")
    return "\n".join(lines)
