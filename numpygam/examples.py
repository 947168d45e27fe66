"""Small example inputs for every functional op: the one table that `check` and the homework share.

    examples(rng)["softmax"] -> Example(forward, backward, inputs, options, h)

inputs are the op's differentiable arguments by name, in the forward's order;
options the rest (masks, integer targets, flags); h the finite-difference step
(1e-5 where a ReLU's kink could sit within 2h of an input).  A new op adds one
entry here, and `python -m numpygam check` checks it from then on.
"""

from collections import namedtuple

import numpy as np

from . import functional as F

# the op's pair, its differentiable inputs by name, its options, the stencil's step h
Example = namedtuple("Example", "forward backward inputs options h", defaults=(1e-3,))


def examples(rng):
    """{op name: Example}, with inputs drawn from rng (float64)."""

    def r(*shape):
        return rng.standard_normal(shape)

    def away_from_zero(*shape):  # keeps ReLU's kink out of the finite-difference stencil
        x = r(*shape)
        return x + np.sign(x) * 0.1

    def distinct(*shape):  # values 0.1 apart: no ties within a max-pooling window
        return rng.permutation(np.prod(shape)).reshape(shape) * 0.1

    def at_least_two_allowed(mask):
        """A row with one allowed key has the gradient 0 whatever the formula (a = 1 there):
        such a check tells a wrong backward from a right one nowhere.  Two keys always."""
        mask = mask.copy()
        mask[..., :2] = True
        return mask

    # local-p's window edges are steps in p_t, which finite differences would see as
    # jumps; here D >= Tk so every key is inside (tests check the edges separately).
    return {
        "linear": Example(F.linear_forward, F.linear_backward,
                          {"x": r(2, 3, 4), "W": r(5, 4), "b": r(5)}, {}),
        "relu": Example(F.relu_forward, F.relu_backward, {"x": away_from_zero(3, 4)}, {}),
        "tanh": Example(F.tanh_forward, F.tanh_backward, {"x": r(3, 4)}, {}),
        "sigmoid": Example(F.sigmoid_forward, F.sigmoid_backward, {"x": r(3, 4)}, {}),
        "softmax": Example(F.softmax_forward, F.softmax_backward, {"scores": r(2, 3, 5)},
                           {"mask": at_least_two_allowed(rng.random((2, 1, 5)) < 0.7)}),
        "log_softmax": Example(F.log_softmax_forward, F.log_softmax_backward, {"x": r(3, 6)}, {}),
        "cross_entropy": Example(F.cross_entropy_forward, F.cross_entropy_backward,
                                 {"logits": r(2, 4, 6)},
                                 {"targets": np.array([[1, 5, -100, 0], [2, 2, 3, -100]])}),
        "embedding": Example(F.embedding_forward, F.embedding_backward, {"W": r(6, 3)},
                             {"indices": np.array([[0, 2, 2], [5, 1, 0]])}),
        "dot_score": Example(F.dot_score_forward, F.dot_score_backward,
                             {"q": r(2, 3, 4), "k": r(2, 5, 4)}, {"scale": 0.5}),
        "general_score": Example(F.general_score_forward, F.general_score_backward,
                                 {"q": r(2, 3, 4), "k": r(2, 5, 6), "W": r(4, 6)}, {}),
        "concat_score": Example(F.concat_score_forward, F.concat_score_backward,
                                {"q": r(2, 3, 4), "k": r(2, 5, 6), "W": r(7, 10), "v": r(7)}, {}),
        "additive_score": Example(F.additive_score_forward, F.additive_score_backward,
                                  {"q": r(2, 3, 4), "k": r(2, 5, 6), "Wq": r(7, 4), "Wk": r(7, 6),
                                   "v": r(7), "b": r(7)}, {}),
        "additive_score (no bias)": Example(
            F.additive_score_forward, F.additive_score_backward,
            {"q": r(2, 3, 4), "k": r(2, 5, 6), "Wq": r(7, 4), "Wk": r(7, 6), "v": r(7),
             "b": None}, {}),
        "softmax (a fully masked row)": Example(
            F.softmax_forward, F.softmax_backward, {"scores": r(2, 3, 5)},
            {"mask": np.array([[[True, False, True, True, False]], [[False] * 5]])}),
        "location_score": Example(F.location_score_forward, F.location_score_backward,
                                  {"q": r(2, 3, 4), "W": r(5, 4)}, {}),
        "context": Example(F.context_forward, F.context_backward,
                           {"weights": r(2, 3, 5), "values": r(2, 5, 4)}, {}),
        "context (one query)": Example(F.context_forward, F.context_backward,
                                       {"weights": r(3, 1, 5), "values": r(3, 5, 4)}, {}),
        "attention (additive)": Example(
            F.attention_forward, F.attention_backward,
            {"q": r(2, 3, 4), "k": r(2, 5, 6), "values": r(2, 5, 3), "Wq": r(7, 4), "Wk": r(7, 6),
             "v": r(7), "b": r(7)}, {"score": "additive", "mask": rng.random((2, 1, 5)) < 0.7}),
        "attention": Example(F.attention_forward, F.attention_backward,
                             {"q": r(2, 3, 4), "k": r(2, 5, 4), "values": r(2, 5, 3), "W": r(4, 4)},
                             {"score": "general", "mask": rng.random((2, 1, 5)) < 0.7}),
        "attentional_hidden": Example(F.attentional_hidden_forward, F.attentional_hidden_backward,
                                      {"c": r(2, 3, 4), "h": r(2, 3, 5), "W": r(6, 9), "b": None},
                                      {}),
        "local_p_attention": Example(F.local_p_attention_forward, F.local_p_attention_backward,
                                     {"q": r(2, 3, 4), "k": r(2, 7, 4), "values": r(2, 7, 3),
                                      "Wp": r(5, 4), "vp": r(5), "W": r(4, 4)},
                                     {"D": 7, "lengths": np.array([7, 5])}),
        "multi_head_attention": Example(
            F.multi_head_attention_forward, F.multi_head_attention_backward,
            {"query": r(2, 3, 4), "key": r(2, 5, 4), "value": r(2, 5, 4), "in_proj_weight": r(12, 4),
             "in_proj_bias": r(12), "out_proj_weight": r(4, 4), "out_proj_bias": r(4)},
            {"num_heads": 2, "mask": rng.random((2, 1, 1, 5)) < 0.8}),
        "conv2d": Example(F.conv2d_forward, F.conv2d_backward,
                          {"x": r(2, 4, 5, 6), "W": r(6, 2, 3, 3), "b": r(6)},
                          {"stride": 2, "padding": 1, "padding_mode": "replicate", "groups": 2}),
        "conv2d (7x7)": Example(F.conv2d_forward, F.conv2d_backward,
                                {"x": r(2, 4, 5, 6), "W": r(6, 2, 7, 7), "b": r(6)},
                                {"padding": 3, "padding_mode": "zeros", "groups": 2}),
        "batch_norm2d": Example(F.batch_norm2d_forward, F.batch_norm2d_backward,
                                {"x": r(2, 3, 2, 2), "gamma": r(3), "beta": r(3)},
                                {"running_mean": r(3), "running_var": np.ones(3), "training": True}),
        "batch_norm2d (eval)": Example(F.batch_norm2d_forward, F.batch_norm2d_backward,
                                       {"x": r(2, 3, 2, 2), "gamma": r(3), "beta": r(3)},
                                       {"running_mean": r(3), "running_var": rng.random(3) + 0.5,
                                        "training": False}),
        "channel_shuffle": Example(F.channel_shuffle_forward, F.channel_shuffle_backward,
                                   {"x": r(2, 6, 2, 2)}, {"groups": 3}),
        "max_pool2d": Example(F.max_pool2d_forward, F.max_pool2d_backward,
                              {"x": distinct(2, 2, 5, 5)}, {"kernel_size": 3, "stride": 2}),
        "avg_pool2d": Example(F.avg_pool2d_forward, F.avg_pool2d_backward, {"x": r(2, 2, 5, 5)},
                              {"kernel_size": 2}),
        "channel_gate": Example(F.channel_gate_forward, F.channel_gate_backward,
                                {"x": r(2, 4, 3, 2), "W1": r(2, 4), "b1": r(2) + 3, "W2": r(4, 2),
                                 "b2": r(4)}, {}),
        # the blog's gate: no sigmoid, and its Linear layers without biases
        "channel_gate (blog)": Example(F.channel_gate_forward, F.channel_gate_backward,
                                       {"x": r(2, 4, 3, 2), "W1": r(2, 4), "b1": None,
                                        "W2": r(4, 2), "b2": None}, {"sigmoid": False}),
        "spatial_gate": Example(F.spatial_gate_forward, F.spatial_gate_backward,
                                {"x": r(2, 4, 3, 3), "W1": r(2, 2, 3, 3), "b1": r(2), "gamma1": r(2),
                                 "beta1": r(2), "W2": r(4, 1, 3, 3), "b2": r(4), "gamma2": r(4),
                                 "beta2": r(4)},
                                {"running_stats": (r(2), np.ones(2), r(4), np.ones(4)), "groups": 2},
                                h=1e-5),
        "spatial_gate (7x7, eval)": Example(
            F.spatial_gate_forward, F.spatial_gate_backward,
            {"x": r(2, 4, 5, 5), "W1": r(2, 4, 7, 7), "b1": None, "gamma1": r(2), "beta1": r(2),
             "W2": r(4, 2, 7, 7), "b2": r(4), "gamma2": r(4), "beta2": r(4)},
            {"running_stats": (r(2), rng.random(2) + 0.5, r(4), rng.random(4) + 0.5),
             "training": False, "padding_mode": "replicate"}, h=1e-5),
        "gru_cell": Example(F.gru_cell_forward, F.gru_cell_backward,
                            {"x": r(3, 4), "h": r(3, 5), "W_ih": r(15, 4), "W_hh": r(15, 5),
                             "b_ih": r(15), "b_hh": r(15)}, {}),
        "layer_norm": Example(F.layer_norm_forward, F.layer_norm_backward,
                              {"x": r(2, 3, 5), "weight": r(5), "bias": r(5)}, {}),
        "dropout": Example(F.dropout_forward, F.dropout_backward, {"x": r(3, 4)},
                           {"p": 0.3, "rng": 7}),  # a seed: the same mask at every call
        "gelu": Example(F.gelu_forward, F.gelu_backward, {"x": r(3, 4)}, {}),
        "gru(reverse, padded)": Example(F.gru_forward, F.gru_backward,
                                        {"x": r(3, 5, 4), "h0": r(3, 5), "W_ih": r(15, 4),
                                         "W_hh": r(15, 5), "b_ih": r(15), "b_hh": r(15)},
                                        {"lengths": np.array([5, 2, 3]), "reverse": True}),
    }


def large_examples(rng):
    """{exercise name: Example}: ONE large input per homework exercise (the keys of
    numpygam.course.exercises.EXERCISES), drawn from rng, float64.

    What it is for: grading a backward on one large input under a CPU budget, a small
    multiple of the reference's whole run, so that a backward that differentiates the
    forward numerically runs out of time.  The small checks of `examples` cannot tell
    the two apart (complex steps through a hand-written forward are exact to 1e-16);
    their costs can: an analytic backward costs about one forward, numerical
    differentiation one forward per group of inputs that touch disjoint outputs.  The
    cleverest such cheater perturbs entry j of every independent row at once, so each
    size below makes long the coupled axis, the one that grouping cannot shrink
    (the comment on each entry names it): hundreds to tens of thousands of forwards,
    while the reference's forward and backward take milliseconds, each gradient is
    at most 1.5 MB and one exercise's gradients together, base64, at most 3 MiB (the
    result document, JSON, holds 4 MiB).  Measured on one core: the reference's forward
    and backward 1-30 ms, the cheapest such cheat 200 to 17000 times that (2 to 26 s),
    except gru_step's, whose written function has no coupled axis (its comment).

    The same forward and backward, and the same kinds of options, as the exercise's
    small checks: `scores` takes the additive score (its backward has the most code),
    `batch_norm` training mode (where each x moves its channel's statistics).  Weights
    are scaled by 1/sqrt(fan-in), as initialised, so gates and tanh are not saturated
    (a saturated gate has gradient ~0 whatever the backward).
    """

    def r(*shape):
        return rng.standard_normal(shape)

    def w(*shape, fan_in):
        return r(*shape) / np.sqrt(fan_in)

    mask = rng.random((2, 1, 8192)) < 0.7
    mask[..., :2] = True  # as in the small check: two allowed keys a row, at least
    return {
        # coupled: the keys Tk = 8192 (rows are independent, so key j of every row moves
        # at once: one forward per key); B Tq = 16 rows keep the gradient at 1 MB
        "softmax": Example(F.softmax_forward, F.softmax_backward, {"scores": r(2, 8, 8192)},
                           {"mask": mask}),
        # coupled: every entry of Wq and Wk, A (Dq + Dk) = 8192 forwards, each through the
        # whole (B, Tq, Tk, A) tanh (every attention unit feeds every score); q and k take
        # only Dq + Dk (one feature of every row at once), v and b 2 A
        "scores": Example(F.additive_score_forward, F.additive_score_backward,
                          {"q": r(2, 32, 64), "k": r(2, 48, 64), "Wq": w(64, 64, fan_in=64),
                           "Wk": w(64, 64, fan_in=64), "v": r(64), "b": r(64)}, {}),
        # coupled: the keys Tk (key j of a in every query row at once, key j of h with all
        # its features at once: 2 Tk forwards); Tq and Dv as long, so that no grouping
        # along them is cheaper.  One matrix product: its cost per gradient byte is the
        # lowest here, and the two gradients' 3 MiB bound Tk Tq and Tk Dv to about 141000
        "context": Example(F.context_forward, F.context_backward,
                           {"weights": r(1, 376, 376), "values": r(1, 376, 376)}, {}),
        # coupled: W1's C C/r = 4096 entries (each hidden unit feeds every channel of every
        # pixel); W2 takes C/r, x only C (pixels are independent: channel c of every pixel
        # at once)
        "channel_gate": Example(F.channel_gate_forward, F.channel_gate_backward,
                                {"x": r(2, 128, 16, 32), "W1": w(32, 128, fan_in=128),
                                 "b1": r(32), "W2": w(128, 32, fan_in=32), "b2": r(128)}, {}),
        # coupled: one output's receptive field, Cin/groups K K = 576 entries of x and as
        # many of W (each (c, u, v) of W for all output channels at once): 2 * 576 + 1
        # forwards; Cout = 192 makes each forward a few milliseconds
        "conv2d": Example(F.conv2d_forward, F.conv2d_backward,
                          {"x": r(2, 128, 24, 24), "W": w(192, 64, 3, 3, fan_in=576),
                           "b": r(192)},
                          {"stride": 1, "padding": 1, "padding_mode": "replicate", "groups": 2}),
        # coupled: the N = B H W = 32768 values of a channel (each moves the channel's mean
        # and variance): N forwards, every channel at once; few channels, so N is large
        "batch_norm": Example(F.batch_norm2d_forward, F.batch_norm2d_backward,
                              {"x": r(8, 4, 64, 64), "gamma": r(4), "beta": r(4)},
                              {"running_mean": r(4), "running_var": np.ones(4),
                               "training": True}),
        # no coupled axis: the student's _step_backward is elementwise in (B, H) (the
        # weights' gradients are the given code's), so a cheater who perturbs every entry
        # at once needs ~5 elementwise forwards whatever the size; B H = 16384 only makes
        # the one-entry-at-a-time cheat (about 4 B H forwards) slow
        "gru_step": Example(F.gru_cell_forward, F.gru_cell_backward,
                            {"x": r(128, 128), "h": r(128, 128), "W_ih": w(384, 128, fan_in=128),
                             "W_hh": w(384, 128, fan_in=128), "b_ih": r(384), "b_hh": r(384)},
                            {}),
    }
