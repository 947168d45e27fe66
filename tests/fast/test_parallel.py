"""The batch split across threads (numpygam/fast/parallel.py): the same numbers as one call."""
import os
import select
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import numpygam.functional as F
from numpygam import nn
from numpygam.fast import conv as fconv
from numpygam.fast import conv_dft, parallel
from numpygam.fast import gam as fgam
from numpygam.fast import multihead as fmultihead
from oracle import batch_split_into

ROUNDING = 1e-12  # float64: the same sums, in two orders


def blas_threads():
    """The thread counts of the BLAS libraries numpygam holds (NumPy's), read now: a BLAS
    loaded later (SciPy's own OpenBLAS, say) is not NumPy's and is left alone."""
    return [lib["num_threads"] for lib in parallel._blas().info()]


@pytest.mark.parametrize("batch", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_the_shares_cover_every_row_once_in_near_equal_parts(batch, threads):
    with batch_split_into(threads):
        shares = parallel.batch_shares(batch, work=1)
    rows = np.concatenate([np.arange(batch)[s] for s in shares])
    np.testing.assert_array_equal(rows, np.arange(batch))
    assert len(shares) == min(threads, batch)
    sizes = [len(np.arange(batch)[s]) for s in shares]
    assert max(sizes) - min(sizes) <= 1


def test_each_share_gets_min_share_work_and_one_thread_is_one_share():
    threads, per_share = parallel.get_num_threads(), parallel.MIN_SHARE_WORK
    try:
        parallel.set_num_threads(4)
        assert parallel.batch_shares(64, work=2 * per_share - 1) == [slice(None)]
        assert len(parallel.batch_shares(64, work=2 * per_share)) == 2
        assert len(parallel.batch_shares(64, work=3 * per_share + 5)) == 3
        assert len(parallel.batch_shares(64, work=100 * per_share)) == 4
        parallel.set_num_threads(1)
        assert parallel.batch_shares(64, work=10 ** 12) == [slice(None)]
    finally:
        parallel.set_num_threads(threads)


def test_a_forked_child_gets_a_pool_of_its_own():
    """After a fork the parent's pool threads do not exist in the child: its shares must
    still run (a pool that thinks it has idle threads would wait for ever)."""
    parallel.map_shares(lambda i: i, [1, 2])  # the parent's pool, with an idle thread
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the shares' result, then leave at once
        try:
            os.write(writer, repr(parallel.map_shares(lambda i: i + 1, [1, 2])).encode())
        finally:
            os._exit(0)
    os.close(writer)
    ready, _, _ = select.select([reader], [], [], 60)
    result = os.read(reader, 100).decode() if ready else "no answer in 60 s"
    os.waitpid(pid, 0) if ready else os.kill(pid, signal.SIGKILL)
    assert result == "[2, 3]"


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "2", None])
def test_set_num_threads_names_a_bad_count(n):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be an integer >= 1, got"):
        parallel.set_num_threads(n)


def test_map_shares_keeps_order_runs_on_several_threads_and_restores_blas():
    before = blas_threads()
    seen = []
    together = threading.Barrier(3, timeout=30)  # passed only if all three run at once

    def work(i):
        together.wait()
        seen.append(blas_threads())
        return i * i

    assert parallel.map_shares(work, [1, 2, 3]) == [1, 4, 9]
    assert seen == [[1] * len(before)] * 3  # BLAS on one thread in each
    assert blas_threads() == before
    assert parallel.map_shares(lambda i: i * i, [5]) == [25]  # one item: plainly


def test_blas_works_on_all_its_threads_after_its_workers_were_stopped(rng):
    """map_shares stops OpenBLAS's spinning workers; its next product starts them again
    and is right to float32's bound, n u |A||A| elementwise."""
    before = blas_threads()
    A = rng.standard_normal((300, 300)).astype(np.float32)
    A @ A  # the workers spin now
    parallel.map_shares(lambda i: i, [1, 2])
    A64 = A.astype(np.float64)
    error = np.abs((A @ A) - A64 @ A64)
    assert np.all(error <= 300 * np.finfo(np.float32).eps * (np.abs(A64) @ np.abs(A64)))
    assert blas_threads() == before


def test_an_error_in_any_share_reaches_the_caller_after_every_share_ended():
    before = blas_threads()
    ended = []

    def work(i):
        if i == 2:
            raise ValueError("share 2 failed")
        time.sleep(0.2)  # still running when share 2 fails
        ended.append(i)
        return i

    with pytest.raises(ValueError, match="share 2 failed"):
        parallel.map_shares(work, [1, 2, 3])
    assert sorted(ended) == [1, 3]
    assert blas_threads() == before


def test_shares_never_nest_and_callers_on_two_threads_both_finish():
    """A map_shares inside a share runs its items one after another on its own thread;
    two user threads calling at once both get their results (no deadlock)."""
    inner = parallel.map_shares(lambda i: parallel.map_shares(lambda j: (i, j), [1, 2]), [1, 2])
    assert inner == [[(1, 1), (1, 2)], [(2, 1), (2, 2)]]
    results = {}
    callers = [threading.Thread(target=lambda k=k: results.update(
        {k: parallel.map_shares(lambda i: i * k, [1, 2, 3])})) for k in (10, 100)]
    for c in callers:
        c.start()
    for c in callers:
        c.join(timeout=60)
    assert results == {10: [10, 20, 30], 100: [100, 200, 300]}


def test_errstate_holds_in_every_share():
    def work(i):
        return np.float64(1) / np.float64(0) if i == 2 else 0.0

    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        parallel.map_shares(work, [1, 2])


def mha_case(rng, self_attention, bias):
    m = nn.MultiheadAttention(8, 2, bias=bias, rng=rng).to(np.float64)
    if bias:
        m.in_proj_bias.data[:] = rng.standard_normal(24)
        m.out_proj.bias.data[:] = rng.standard_normal(8)
    q = rng.standard_normal((5, 4, 8))
    kv = q if self_attention else rng.standard_normal((5, 6, 8))
    return m, q, kv


def run(m, q, kv, dout, dweights, **kwargs):
    m.zero_grad()
    out, weights = m(q, kv, kv, **kwargs)
    grads = m.backward(dout, dweights)
    return [out, weights, *grads, *(p.grad.copy() for p in m.parameters())]


@pytest.mark.parametrize("shares", [2, 3, 5])
@pytest.mark.parametrize("self_attention", [True, False])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "per-head float"])
@pytest.mark.parametrize("weights", ["averaged", "per head", "not needed"])
def test_multihead_attention_in_shares_gives_what_one_call_gives(shares, self_attention,
                                                                  masks, weights, rng):
    m, q, kv = mha_case(rng, self_attention, bias=masks != "none")
    Tk = kv.shape[1]
    kwargs = {"need_weights": weights != "not needed",
              "average_attn_weights": weights == "averaged"}
    if masks == "padding":
        kwargs["key_padding_mask"] = np.arange(Tk)[None] >= np.array([6, 1, 3, 6, 2])[:, None]
    elif masks == "causal" and self_attention:
        kwargs["attn_mask"] = ~np.tril(np.ones((4, 4), bool))
    elif masks == "per-head float":
        kwargs["attn_mask"] = rng.standard_normal((5 * 2, 4, Tk))
    dout = rng.standard_normal((5, 4, 8))
    dweights = None if weights == "not needed" else \
        rng.standard_normal((5, 4, Tk) if weights == "averaged" else (5, 2, 4, Tk))
    with batch_split_into(1):
        whole = run(m, q, kv, dout, dweights, **kwargs)
    with batch_split_into(shares):
        split = run(m, q, kv, dout, dweights, **kwargs)
    for name, a, b in zip(["out", "weights", "dquery", "dkey", "dvalue", "parameters..."],
                          whole, split):
        if a is None:
            assert b is None, name
        else:
            np.testing.assert_allclose(b, a, rtol=ROUNDING, atol=ROUNDING, err_msg=name)


def test_the_module_runs_the_functional_op_once_per_share_on_its_rows(rng, monkeypatch):
    """What the equality tests above cannot see: that the batch was split at all."""
    forward, backward, rows = fmultihead.textbook_forward, fmultihead.textbook_backward, []

    def spy_forward(query, *args, **kwargs):
        rows.append(("forward", len(query)))
        return forward(query, *args, **kwargs)

    def spy_backward(dout, cache):
        rows.append(("backward", len(dout[0])))
        return backward(dout, cache)
    monkeypatch.setattr(fmultihead, "textbook_forward", spy_forward)
    monkeypatch.setattr(fmultihead, "textbook_backward", spy_backward)
    m, q, _ = mha_case(rng, True, bias=True)
    with batch_split_into(2):
        m.backward(m(q, q, q)[0])
    assert sorted(rows) == [("backward", 2), ("backward", 3), ("forward", 2), ("forward", 3)]
    rows.clear()
    with batch_split_into(1):
        m.backward(m(q, q, q)[0])
    assert rows == [("forward", 5), ("backward", 5)]


def test_calls_in_shares_undo_last_first_like_any_module(rng):
    """Two forwards, then two backwards in reverse (a layer used twice): each backward
    finds its own call's shares, as with one call each."""
    m, q, _ = mha_case(rng, True, bias=True)
    q2, d1, d2 = (rng.standard_normal(q.shape) for _ in range(3))
    results = []
    for shares in (1, 2):
        with batch_split_into(shares):
            m.zero_grad()
            m(q, q, q)
            m(q2[:3], q2[:3], q2[:3])
            g2 = m.backward(d2[:3])
            g1 = m.backward(d1)
            results.append([*g1, *g2, *(p.grad.copy() for p in m.parameters())])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=ROUNDING, atol=ROUNDING)


def test_a_transformer_in_shares_gives_what_one_call_gives(rng):
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=16, dropout=0.0, batch_first=True,
                           rng=np.random.default_rng(3)).to(np.float64)
    src, tgt = rng.standard_normal((4, 6, 8)), rng.standard_normal((4, 3, 8))
    padding = np.arange(6)[None] >= np.array([6, 2, 4, 5])[:, None]
    causal = ~np.tril(np.ones((3, 3), bool))
    dout = rng.standard_normal((4, 3, 8))
    results = []
    for shares in (1, 2):
        with batch_split_into(shares):
            model.zero_grad()
            out = model(src, tgt, tgt_mask=causal, src_key_padding_mask=padding,
                        memory_key_padding_mask=padding)
            grads = model.backward(dout)
            results.append([out, *grads, *(p.grad.copy() for p in model.parameters())])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=ROUNDING, atol=ROUNDING)


def test_a_fully_padded_row_in_a_share_is_zeros_without_a_warning(rng):
    m, q, kv = mha_case(rng, False, bias=True)
    padding = np.zeros((5, 6), bool)
    padding[4] = True  # the last row, in the last share: no key at all
    with batch_split_into(2), np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out, w = m(q, kv, kv, key_padding_mask=padding)
        grads = m.backward(np.ones_like(out), np.ones_like(w))
    assert np.all(w[4] == 0) and all(np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("call, words", [
    (lambda m, x: m(x, x[:, :3], x, ), ["key.shape must equal value.shape", "(5, 3, 8)",
                                        "(5, 4, 8)"]),
    (lambda m, x: m(x, x[:2], x[:2]), ["the query's B and E", "(2, 8)", "(5, 8)"]),
    (lambda m, x: m(x[..., :6], x[..., :6], x[..., :6]), ["embed_dim", "got 6, expected 8"]),
    (lambda m, x: m(x, x, x, key_padding_mask=np.zeros((5, 3), bool)),
     ["key_padding_mask", "(5, 4)", "(5, 3)"]),
    (lambda m, x: m(x.tolist(), x, x), ["query"]),
])
def test_bad_input_gets_the_same_clear_error_when_the_batch_would_be_split(call, words, rng):
    m, x, _ = mha_case(rng, True, bias=True)
    with batch_split_into(2), pytest.raises((ValueError, TypeError)) as info:
        call(m, x)
    for w in words:
        assert w in str(info.value), f"{w!r} not in: {info.value}"


@pytest.mark.parametrize("shares", [1, 2])
def test_misshaped_dweights_are_named_and_a_corrected_retry_works(shares, rng):
    m, q, _ = mha_case(rng, True, bias=True)
    dout = rng.standard_normal(q.shape)
    with batch_split_into(shares):
        m.zero_grad()
        out, w = m(q, q, q)
        with pytest.raises(ValueError, match=r"dweights has shape \(5, 2, 4\), expected "
                                             r"\(5, 4, 4\).*nothing was changed"):
            m.backward(dout, w[:, :2])
        assert np.all(m.in_proj_weight.grad == 0)
        retried = m.backward(dout, np.ones_like(w))
    m.zero_grad()
    m(q, q, q)
    once = m.backward(dout, np.ones_like(w))
    for a, b in zip(retried, once):
        np.testing.assert_allclose(a, b, rtol=ROUNDING, atol=ROUNDING)


# GAM's channel gate (each pixel alone) and its 7 x 7 convolutions (each image alone)
# run a large batch in shares too (numpygam/fast/gam.py, numpygam/fast/conv.py)
GAM_MODULES = {
    "GAM, paper": lambda: nn.GAM(8, rate=2, variant="paper", dtype=np.float64),
    "GAM, blog, groups 2": lambda: nn.GAM(8, rate=2, variant="blog", groups=2,
                                          dtype=np.float64),
    "ChannelGate": lambda: nn.ChannelGate(8, rate=2, dtype=np.float64),
    "SpatialGate": lambda: nn.SpatialGate(8, rate=2, dtype=np.float64),
    "GAMAttention": lambda: nn.GAMAttention(16, 16, dtype=np.float64),
}


@pytest.mark.parametrize("name", GAM_MODULES)
def test_gam_in_shares_gives_the_numbers_of_one_call(name, rng):
    """Two training steps (the running statistics move), then one in eval mode: outputs,
    input gradients, parameter gradients, the gates kept for plotting, the state."""
    C = 16 if name == "GAMAttention" else 8
    x = rng.standard_normal((5, C, 6, 7))
    douts = [rng.standard_normal(x.shape) for _ in range(3)]
    results = []
    for shares in (1, 3):
        nn.manual_seed(0)
        m = GAM_MODULES[name]()
        got = []
        with batch_split_into(shares):
            for step, dout in enumerate(douts):
                if step == 2:
                    m.eval()
                m.zero_grad()
                got += [m(x), m.backward(dout)]
                got += [p.grad.copy() for _, p in m.named_parameters()]
                got += [getattr(m, g) for g in ("gate", "channel_gate", "spatial_gate")
                        if hasattr(m, g)]
        results.append(got + list(m.state_dict().values()))
    assert len(results[0]) == len(results[1]) > 6
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=ROUNDING, atol=ROUNDING)


def test_gam_runs_its_channel_gate_and_convolutions_once_per_share(rng, monkeypatch):
    """What the equality test cannot see: that the batch was split at all."""
    calls = []

    def spy(name, op):
        def call(x, *args, **kwargs):
            calls.append((name, len(x)))
            return op(x, *args, **kwargs)
        return call
    monkeypatch.setattr(fgam, "_channel_gate_1x1_forward",
                        spy("channel", fgam._channel_gate_1x1_forward))
    monkeypatch.setattr(fconv, "conv2d_dft_forward", spy("conv", fconv.conv2d_dft_forward))
    for name in ("batch_norm_apply", "sigmoid_forward", "relu_forward"):  # the spatial
        monkeypatch.setattr(fgam, name, spy(name, getattr(fgam, name)))     # gate's
    m = nn.GAM(8, rate=2, dtype=np.float64)
    x = rng.standard_normal((5, 8, 6, 6))
    each = ("batch_norm_apply", "batch_norm_apply", "channel", "conv", "conv",
            *("relu_forward", "sigmoid_forward") * 2)   # in the channel gate and the spatial
    with batch_split_into(2):
        m.backward(m(x))
    assert sorted(calls) == sorted((name, rows) for name in each for rows in (2, 3))
    calls.clear()
    with batch_split_into(1):
        m.backward(m(x))
    assert sorted(calls) == sorted((name, 5) for name in each)


@pytest.mark.parametrize("Cin, Cout, H, split", [(64, 16, 32, True), (16, 64, 32, True),
                                                 (256, 64, 14, False), (64, 256, 14, False)])
def test_gams_convolutions_are_split_where_the_channels_are_few(Cin, Cout, H, split):
    """dft_shares's rule, at GAM's four convolutions (B = 8, 2 threads): in shares up to
    Cin Cout / (Cin + Cout) = 32 (12.8 at C = 64), whole above (51.2 at C = 256)."""
    x, W = np.empty((8, Cin, H, H), np.float32), np.empty((Cout, Cin, 7, 7), np.float32)
    threads = parallel.get_num_threads()
    try:
        parallel.set_num_threads(2)
        assert (len(fconv.dft_shares(x, W, groups=1)) == 2) == split
    finally:
        parallel.set_num_threads(threads)


def test_a_misshaped_dy_for_a_convolution_in_shares_is_named(rng):
    x, W = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((2, 3, 7, 7))
    with batch_split_into(2):
        y, cache = fconv.conv2d_forward(x, W, None, padding=3)
        with pytest.raises(ValueError, match=r"conv2d_backward: dy has shape \(5, 2, 8, 8\), "
                                             r"expected \(4, 2, 8, 8\)"):
            fconv.conv2d_backward(rng.standard_normal((5, 2, 8, 8)), cache)
        dx, dW, _ = fconv.conv2d_backward(np.ones_like(y), cache)
    whole_y, whole_cache = conv_dft.conv2d_dft_forward(x, W, None, 1, 3)
    whole_dx, whole_dW, _ = conv_dft.conv2d_dft_backward(np.ones_like(y), whole_cache)
    for a, b in ((y, whole_y), (dx, whole_dx), (dW, whole_dW)):
        np.testing.assert_allclose(a, b, rtol=ROUNDING, atol=ROUNDING)


def spatial_gate_params(rng, C, r=2):
    """spatial_gate_forward's keyword arguments, float64, with running statistics."""
    return dict(W1=rng.standard_normal((C // r, C, 7, 7)), b1=rng.standard_normal(C // r),
                gamma1=rng.uniform(0.5, 2, C // r), beta1=rng.standard_normal(C // r),
                W2=rng.standard_normal((C, C // r, 7, 7)), b2=rng.standard_normal(C),
                gamma2=rng.uniform(0.5, 2, C), beta2=rng.standard_normal(C),
                running_stats=(np.zeros(C // r), np.ones(C // r), np.zeros(C), np.ones(C)))


def test_the_spatial_gate_in_shares_normalises_with_the_whole_batchs_statistics(rng):
    """Shares whose images differ in scale (1 against 100): a batch norm on a share's own
    statistics would differ from one call at once, forward and backward."""
    x = rng.standard_normal((4, 8, 8, 8)) * np.array([1, 1, 100, 100])[:, None, None, None]
    dout, params = rng.standard_normal(x.shape), spatial_gate_params(rng, 8)
    for training in (True, False):
        results = []
        for shares in (1, 2):
            with batch_split_into(shares):
                out, cache = fgam.spatial_gate_forward(x, training=training, **params)
                assert len(cache.shares) == shares
                results.append([out, cache.gate, *fgam.spatial_gate_backward(dout, cache),
                                *(cache.running_stats or ())])
        for a, b in zip(*results):  # db1, db2 are sums that cancel to 0: an absolute floor
            np.testing.assert_allclose(a, b, rtol=ROUNDING,
                                       atol=ROUNDING * max(1.0, np.abs(a).max()))


@pytest.mark.parametrize("change", [dict(W2=(8, 3, 7, 7)), dict(gamma1=(5,)),
                                    dict(W1=(4, 8, 7, 7), dtype=np.float32)])
def test_bad_arguments_get_the_same_error_when_the_spatial_gate_would_be_split(change, rng):
    x, params = rng.standard_normal((4, 8, 8, 8)), spatial_gate_params(rng, 8)
    name, shape = next((k, v) for k, v in change.items() if k != "dtype")
    params[name] = rng.standard_normal(shape).astype(change.get("dtype", np.float64))
    errors = []
    for shares, forward in ((1, fgam.spatial_gate_forward), (2, fgam.spatial_gate_forward),
                            (1, F.spatial_gate_forward)):
        with batch_split_into(shares), pytest.raises((ValueError, TypeError)) as info:
            forward(x, **params)
        errors.append(str(info.value))
    assert errors[0] == errors[1] == errors[2]


def test_a_misshaped_dout_for_the_spatial_gate_in_shares_is_named(rng):
    x = rng.standard_normal((4, 8, 6, 6))
    with batch_split_into(2):
        _, cache = fgam.spatial_gate_forward(x, **spatial_gate_params(rng, 8))
        with pytest.raises(ValueError, match=r"spatial_gate_backward: dout has shape "
                                             r"\(4, 8, 6, 5\), expected \(4, 8, 6, 6\)"):
            fgam.spatial_gate_backward(np.ones((4, 8, 6, 5)), cache)


def test_combined_joins_the_batched_results_and_sums_the_rest():
    a = (np.ones((2, 3)), None, np.full(4, 1.0), None)
    b = (np.zeros((1, 3)), None, np.full(4, 2.0), None)
    dx, dy, dW, db = parallel.combined([a, b], batched=2)
    np.testing.assert_array_equal(dx, np.concatenate([a[0], b[0]]))
    assert dy is None and db is None
    np.testing.assert_array_equal(dW, np.full(4, 3.0))
    assert parallel.combined([a], batched=2)[0] is a[0]   # one share: its arrays as they are
