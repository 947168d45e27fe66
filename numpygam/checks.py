"""Every op and module of the library, gradient-checked on small random inputs.

`python -m numpygam check` runs this list.  Each entry is a name and a
function that returns a GradcheckReport; a new op adds one line here.
"""
import numpy as np

from . import functional as F
from . import nn
from .gradcheck import gradcheck, gradcheck_module


def _cases(rng):
    def r(*shape):
        return rng.standard_normal(shape)

    def away_from_zero(*shape):  # keeps ReLU's kink out of the finite-difference stencil
        x = r(*shape)
        return x + np.sign(x) * 0.1

    def distinct(*shape):  # values 0.1 apart: no ties within a max-pooling window
        return rng.permutation(np.prod(shape)).reshape(shape) * 0.1

    nn.manual_seed(0)
    # local-p's window edges are steps in p_t, which finite differences would see as
    # jumps; here D >= Tk so every key is inside (tests check the edges separately).
    return [
        ("linear", lambda: gradcheck(F.linear_forward, F.linear_backward,
                                     {"x": r(2, 3, 4), "W": r(5, 4), "b": r(5)})),
        ("relu", lambda: gradcheck(F.relu_forward, F.relu_backward, {"x": away_from_zero(3, 4)})),
        ("tanh", lambda: gradcheck(F.tanh_forward, F.tanh_backward, {"x": r(3, 4)})),
        ("sigmoid", lambda: gradcheck(F.sigmoid_forward, F.sigmoid_backward, {"x": r(3, 4)})),
        ("softmax", lambda: gradcheck(F.softmax_forward, F.softmax_backward, {"scores": r(2, 3, 5)},
                                      {"mask": rng.random((2, 1, 5)) < 0.7})),
        ("log_softmax", lambda: gradcheck(F.log_softmax_forward, F.log_softmax_backward,
                                          {"x": r(3, 6)})),
        ("cross_entropy", lambda: gradcheck(
            F.cross_entropy_forward, F.cross_entropy_backward, {"logits": r(2, 4, 6)},
            {"targets": np.array([[1, 5, -100, 0], [2, 2, 3, -100]])})),
        ("embedding", lambda: gradcheck(F.embedding_forward, F.embedding_backward, {"W": r(6, 3)},
                                        {"indices": np.array([[0, 2, 2], [5, 1, 0]])})),
        ("dot_score", lambda: gradcheck(F.dot_score_forward, F.dot_score_backward,
                                        {"q": r(2, 3, 4), "k": r(2, 5, 4)}, {"scale": 0.5})),
        ("general_score", lambda: gradcheck(F.general_score_forward, F.general_score_backward,
                                            {"q": r(2, 3, 4), "k": r(2, 5, 6), "W": r(4, 6)})),
        ("concat_score", lambda: gradcheck(F.concat_score_forward, F.concat_score_backward,
                                           {"q": r(2, 3, 4), "k": r(2, 5, 6), "W": r(7, 10),
                                            "v": r(7)})),
        ("additive_score", lambda: gradcheck(
            F.additive_score_forward, F.additive_score_backward,
            {"q": r(2, 3, 4), "k": r(2, 5, 6), "Wq": r(7, 4), "Wk": r(7, 6), "v": r(7),
             "b": r(7)})),
        ("location_score", lambda: gradcheck(F.location_score_forward, F.location_score_backward,
                                             {"q": r(2, 3, 4), "W": r(5, 4)})),
        ("context", lambda: gradcheck(F.context_forward, F.context_backward,
                                      {"weights": r(2, 3, 5), "values": r(2, 5, 4)})),
        ("attention", lambda: gradcheck(
            F.attention_forward, F.attention_backward,
            {"q": r(2, 3, 4), "k": r(2, 5, 4), "values": r(2, 5, 3), "W": r(4, 4)},
            {"score": "general", "mask": rng.random((2, 1, 5)) < 0.7})),
        ("attentional_hidden", lambda: gradcheck(
            F.attentional_hidden_forward, F.attentional_hidden_backward,
            {"c": r(2, 3, 4), "h": r(2, 3, 5), "W": r(6, 9), "b": None})),
        ("local_p_attention", lambda: gradcheck(
            F.local_p_attention_forward, F.local_p_attention_backward,
            {"q": r(2, 3, 4), "k": r(2, 7, 4), "values": r(2, 7, 3), "Wp": r(5, 4), "vp": r(5),
             "W": r(4, 4)}, {"D": 7, "lengths": np.array([7, 5])})),
        ("multi_head_attention", lambda: gradcheck(
            F.multi_head_attention_forward, F.multi_head_attention_backward,
            {"query": r(2, 3, 4), "key": r(2, 5, 4), "value": r(2, 5, 4),
             "in_proj_weight": r(12, 4), "in_proj_bias": r(12), "out_proj_weight": r(4, 4),
             "out_proj_bias": r(4)}, {"num_heads": 2, "mask": rng.random((2, 1, 1, 5)) < 0.8})),
        ("conv2d", lambda: gradcheck(
            F.conv2d_forward, F.conv2d_backward, {"x": r(2, 4, 5, 6), "W": r(6, 2, 3, 3), "b": r(6)},
            {"stride": 2, "padding": 1, "padding_mode": "replicate", "groups": 2})),
        ("conv2d (7x7, the DFT path)", lambda: gradcheck(
            F.conv2d_forward, F.conv2d_backward, {"x": r(2, 4, 5, 6), "W": r(6, 2, 7, 7), "b": r(6)},
            {"padding": 3, "padding_mode": "zeros", "groups": 2})),
        ("conv2d_gemm", lambda: gradcheck(
            F.conv2d_gemm_forward, F.conv2d_gemm_backward,
            {"x": r(2, 4, 5, 6), "W": r(6, 2, 7, 7), "b": r(6)},
            {"padding": 3, "padding_mode": "replicate", "groups": 2})),
        ("conv2d_dft", lambda: gradcheck(
            F.conv2d_dft_forward, F.conv2d_dft_backward,
            {"x": r(2, 4, 5, 6), "W": r(6, 2, 3, 3), "b": r(6)},
            {"stride": 2, "padding": 1, "padding_mode": "replicate", "groups": 2})),
        ("conv2d_reference", lambda: gradcheck(
            F.conv2d_reference_forward, F.conv2d_reference_backward,
            {"x": r(2, 4, 5, 6), "W": r(6, 2, 3, 3), "b": r(6)},
            {"stride": 2, "padding": 1, "padding_mode": "replicate", "groups": 2})),
        ("batch_norm2d", lambda: gradcheck(
            F.batch_norm2d_forward, F.batch_norm2d_backward,
            {"x": r(2, 3, 2, 2), "gamma": r(3), "beta": r(3)},
            {"running_mean": r(3), "running_var": np.ones(3), "training": True})),
        ("channel_shuffle", lambda: gradcheck(F.channel_shuffle_forward,
                                              F.channel_shuffle_backward, {"x": r(2, 6, 2, 2)},
                                              {"groups": 3})),
        ("max_pool2d", lambda: gradcheck(F.max_pool2d_forward, F.max_pool2d_backward,
                                         {"x": distinct(2, 2, 5, 5)}, {"kernel_size": 3, "stride": 2})),
        ("avg_pool2d", lambda: gradcheck(F.avg_pool2d_forward, F.avg_pool2d_backward,
                                         {"x": r(2, 2, 5, 5)}, {"kernel_size": 2})),
        ("channel_gate", lambda: gradcheck(
            F.channel_gate_forward, F.channel_gate_backward,
            {"x": r(2, 4, 3, 2), "W1": r(2, 4), "b1": r(2) + 3, "W2": r(4, 2), "b2": r(4)})),
        ("spatial_gate", lambda: gradcheck(
            F.spatial_gate_forward, F.spatial_gate_backward,
            {"x": r(2, 4, 3, 3), "W1": r(2, 2, 3, 3), "b1": r(2), "gamma1": r(2), "beta1": r(2),
             "W2": r(4, 1, 3, 3), "b2": r(4), "gamma2": r(4), "beta2": r(4)},
            {"running_stats": (r(2), np.ones(2), r(4), np.ones(4)), "groups": 2}, h=1e-5)),
        ("nn.Linear", lambda: gradcheck_module(nn.Linear(4, 3), [r(2, 4)])),
        ("nn.Sequential", lambda: gradcheck_module(
            nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid()), [r(2, 4)])),
        ("nn.Embedding", lambda: gradcheck_module(nn.Embedding(6, 3, padding_idx=0),
                                                  [np.array([[1, 2], [5, 2]])])),
        *[(f"nn.Attention({score})", lambda score=score: gradcheck_module(
            nn.Attention(score, 4, 6, attn_dim=5, num_keys=5), [r(2, 3, 4), r(2, 5, 6), r(2, 5, 3)]))
          for score in ("general", "concat", "additive", "location")],
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
        # ReLUs inside these blocks: h = 1e-5 keeps the stencil off their kinks
        *[(f"nn.GAM({variant}, groups={g})", lambda variant=variant, g=g: gradcheck_module(
            nn.GAM(8, variant=variant, groups=g), [r(2, 8, 4, 5)], h=1e-5))
          for variant, g in (("paper", 1), ("blog", 1), ("paper", 2))],
        ("nn.GAM(eval)", lambda: gradcheck_module(nn.GAM(8).eval(), [r(1, 8, 1, 3)], h=1e-5)),
        ("nn.SEBlock", lambda: gradcheck_module(nn.SEBlock(8, 4), [r(2, 8, 3, 4)], h=1e-5)),
        ("nn.CBAM", lambda: gradcheck_module(nn.CBAM(8, 4), [distinct(2, 8, 3, 4)], h=1e-5)),
        ("nn.BasicBlock", lambda: gradcheck_module(
            nn.BasicBlock(4, 6, stride=2, attention=nn.GAM(6, rate=2)), [r(2, 4, 5, 5)], h=1e-5)),
        ("gru_cell", lambda: gradcheck(
            F.gru_cell_forward, F.gru_cell_backward,
            {"x": r(3, 4), "h": r(3, 5), "W_ih": r(15, 4), "W_hh": r(15, 5), "b_ih": r(15),
             "b_hh": r(15)})),
        ("gru(reverse, padded)", lambda: gradcheck(
            F.gru_forward, F.gru_backward,
            {"x": r(3, 5, 4), "h0": r(3, 5), "W_ih": r(15, 4), "W_hh": r(15, 5), "b_ih": r(15),
             "b_hh": r(15)}, {"lengths": np.array([5, 2, 3]), "reverse": True})),
        ("nn.GRU(bidirectional)", lambda: gradcheck_module(
            nn.GRU(3, 4, bidirectional=True), [r(3, 5, 3), r(2, 3, 4), np.array([5, 1, 3])])),
        *[(f"Seq2Seq({attention}, {score})", lambda attention=attention, score=score:
           _seq2seq_check(attention, score)) for attention in ("bahdanau", "luong")
          for score in ("additive", "general")],
        ("nn.Conv2d", lambda: gradcheck_module(nn.Conv2d(3, 4, 2, stride=2, padding=1),
                                               [r(2, 3, 5, 4)])),
        ("nn.BatchNorm2d", lambda: gradcheck_module(nn.BatchNorm2d(3), [r(2, 3, 2, 2)])),
        ("nn.MaxPool2d", lambda: gradcheck_module(nn.MaxPool2d(2), [distinct(2, 3, 4, 4)])),
    ]


def _seq2seq_check(attention, score):
    """The whole encoder-decoder's loss against every one of its parameters."""
    from .data import copy_task, make_batch
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
