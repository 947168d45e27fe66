"""The fast floor's idioms (numpygam.fast), each against its plain NumPy equivalent or
its textbook twin (numpygam.functional), same process.

    python benchmarks/bench_idioms.py

An idiom stays on the fast floor only while it pays here; the docstrings there quote
these figures (float32, median of repeated runs).
"""
import numpy as np

from numpygam import fast, nn
from numpygam import functional as F
from numpygam.fast import conv as conv2d
from numpygam.fast import parallel
from numpygam.fast.matmul import matmul_last
from numpygam.fast.scores import projected_additive_score_backward, projected_additive_score_forward
from numpygam.functional import additive_score_backward, additive_score_forward, softmax_forward
from numpygam.functional.activations import stable_sigmoid
from numpygam.tasks.g2p import DataUnavailable, load_cmudict
from numpygam.train import G2P_PRESETS, TrainConfig, Trainer
from timing import median_seconds

rng = np.random.default_rng(0)


def row(name, idiom, plain, repeats=25):
    t_idiom, t_plain = median_seconds(idiom, repeats), median_seconds(plain, repeats)
    print(f"{name:<72} {t_idiom * 1e6:9.1f} us {t_plain * 1e6:9.1f} us {t_plain / t_idiom:6.2f}x")


def softmax_plain(e):
    shifted = e - e.max(axis=-1, keepdims=True)
    z = np.exp(shifted)
    return z / z.sum(axis=-1, keepdims=True)


def softmax_in_place(e):  # the steps of softmax_forward after its one new array
    e -= e.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def additive_g_in_place(z, de, v):  # the steps of additive_score_backward's g
    g = z * z
    np.subtract(1, g, out=g)
    g *= v
    g *= de[..., None]
    return g


def whole(fn):
    """fn run with every batch whole (one share), then the setting as it was."""
    def run():
        threads = parallel.get_num_threads()
        parallel.set_num_threads(1)
        try:
            fn()
        finally:
            parallel.set_num_threads(threads)
    return run


def after_a_product(fn):
    """fn right after a matrix product, while OpenBLAS's workers still spin."""
    A = rng.standard_normal((256, 256)).astype(np.float32)

    def run():
        A @ A
        fn()
    return run


def shares_rows():
    """numpygam/fast/parallel.py: multi-head attention in shares, and a Transformer step with it."""
    x = rng.standard_normal((32, 128, 256)).astype(np.float32)
    mha = nn.MultiheadAttention(256, 8)

    def attention():
        mha(x, x, x)
        mha.backward(x)
    name = f"multi-head attention in {parallel.get_num_threads()} shares  (whole)"
    row(f"{name}, B32 T128 E256 H8, fwd+bwd", attention, whole(attention))
    row(f"{name}, the same right after a product", after_a_product(attention),
        whole(after_a_product(attention)))
    src, tgt = (rng.standard_normal((32, 128, 256)).astype(np.float32) for _ in range(2))
    model = nn.Transformer(d_model=256, nhead=8, num_encoder_layers=2, num_decoder_layers=2,
                           dim_feedforward=1024, dropout=0.1, batch_first=True)
    causal = ~F.causal_mask(128)

    def step():
        model.zero_grad()
        out = model(src, tgt, tgt_mask=causal)
        model.backward(2 * out / out.size)
    row("Transformer step, its attention in shares  (whole), d256 H8 2+2 B32 T128",
        step, whole(step), repeats=5)


def forced_into_shares(fn):
    """fn with GAM's shares taken at any size (conv2d.dft_shares's channel rule and the
    channel gate's minimum off), then the settings as they were."""
    def run():
        saved = conv2d.SHARES_MAX_CHANNELS, fast.gam.CHANNEL_GATE_SHARE_VALUES
        conv2d.SHARES_MAX_CHANNELS, fast.gam.CHANNEL_GATE_SHARE_VALUES = 10 ** 9, 0
        try:
            fn()
        finally:
            conv2d.SHARES_MAX_CHANNELS, fast.gam.CHANNEL_GATE_SHARE_VALUES = saved
    return run


def convolutions_alone_in_shares(fn):
    """fn (forced into shares) with the spatial gate whole but for its convolutions,
    which conv2d_forward still splits: the gate as it ran before its stages took shares."""
    def run():
        rule = fast.gam.dft_shares
        fast.gam.dft_shares = lambda x, W, groups: [slice(None)]
        try:
            forced_into_shares(fn)()
        finally:
            fast.gam.dft_shares = rule
    return run


def gam_shares_rows():
    """GAM's channel gate and 7 x 7 convolutions in shares (numpygam/fast/gam.py,
    numpygam/fast/conv.py), with freed memory kept (timing.py opts in,
    numpygam/fast/memory.py) so that page faults do not blur the rows; forced into shares
    where the rules say whole."""
    n = parallel.get_num_threads()
    for Cin, Cout, H in ((64, 16, 32), (16, 64, 32), (8, 32, 32), (128, 32, 28), (64, 64, 32),
                         (256, 64, 14), (64, 256, 14), (512, 128, 7)):
        x = rng.standard_normal((8, Cin, H, H)).astype(np.float32)
        W = rng.standard_normal((Cout, Cin, 7, 7)).astype(np.float32)
        dy = np.ones((8, Cout, H, H), np.float32)

        def conv():
            fast.conv2d_backward(dy, fast.conv2d_forward(x, W, None, padding=3)[1])
        c = Cin * Cout / (Cin + Cout)
        row(f"7x7 conv2d (DFT) in {n} shares  (whole), B8 {Cin}->{Cout} {H}x{H}, c={c:.1f}",
            forced_into_shares(conv), whole(conv), repeats=12)
    for size in ((8, 64, 16, 16), (4, 64, 32, 32), (8, 64, 32, 32), (8, 256, 14, 14)):
        x = rng.standard_normal(size).astype(np.float32)
        gate = nn.ChannelGate(size[1])

        def channel():
            gate.backward(gate(x))
        row(f"GAM's channel gate in {n} shares  (whole), {size}, {x.size // n} values a share",
            forced_into_shares(channel), whole(channel))
    for size in ((8, 64, 32, 32), (8, 256, 14, 14)):
        x = rng.standard_normal(size).astype(np.float32)
        gate = nn.SpatialGate(size[1])

        def spatial():
            gate.backward(gate(x))
        row(f"nn.SpatialGate in {n} shares  (only its convolutions), {size}",
            forced_into_shares(spatial), convolutions_alone_in_shares(spatial), repeats=12)
    for size in ((8, 64, 32, 32), (8, 256, 14, 14)):
        x = rng.standard_normal(size).astype(np.float32)
        gam = nn.GAM(size[1])

        def step():
            gam.backward(gam(x))
        row(f"nn.GAM step, as the rules split it  (whole), {size}", step, whole(step),
            repeats=12)


def main():
    print(f"{'idiom (plain equivalent)':<72} {'idiom':>12} {'plain':>12} {'gain':>7}")
    x, M = rng.standard_normal((64, 20, 128)).astype(np.float32), rng.standard_normal(
        (128, 128)).astype(np.float32)
    row("matmul_last(x, M)  (x @ M), (64, 20, 128) @ (128, 128)",
        lambda: matmul_last(x, M), lambda: x @ M)
    dy = rng.standard_normal((1280, 128)).astype(np.float32)
    ones = np.ones(len(dy), np.float32)
    row("ones @ dy  (dy.sum(axis=0)), (1280, 128)", lambda: ones @ dy, lambda: dy.sum(axis=0))
    a, b = (rng.standard_normal((256, 128, 32)).astype(np.float32) for _ in range(2))
    row("contiguous copy of b^T  (a @ b^T as a view), (256, 128, 32)",
        lambda: a @ np.ascontiguousarray(b.transpose(0, 2, 1)), lambda: a @ b.transpose(0, 2, 1))
    x, W_in = (rng.standard_normal(s).astype(np.float32) for s in ((32, 128, 256), (768, 256)))
    thirds = np.split(W_in, 3)
    row("x [W_q; W_k; W_v]^T  (three x W^T), (32, 128, 256) @ (256, 768)",
        lambda: matmul_last(x, W_in.T), lambda: [matmul_last(x, W.T) for W in thirds])
    dQKV = rng.standard_normal((32 * 128, 768)).astype(np.float32)
    x2 = x.reshape(-1, 256)
    row("dQKV^T x  (three dW = dQ^T x), (768, 4096) @ (4096, 256)",
        lambda: dQKV.T @ x2, lambda: [dQKV[:, i * 256:(i + 1) * 256].T @ x2 for i in range(3)])
    a1, dc1 = (rng.random(s).astype(np.float32) for s in ((64, 1, 30), (64, 1, 128)))
    row("a^T * dc, one query  (a^T @ dc), (64, 30, 1) x (64, 1, 128)",
        lambda: a1.transpose(0, 2, 1) * dc1, lambda: a1.transpose(0, 2, 1) @ dc1)
    z = np.tanh(rng.standard_normal((64, 1, 30, 64))).astype(np.float32)
    de, v = rng.random((64, 1, 30)).astype(np.float32), rng.random(64).astype(np.float32)
    row("g = de v (1 - z^2) in one array  (a temporary per factor), (64, 1, 30, 64)",
        lambda: additive_g_in_place(z, de, v), lambda: (de[..., None] * v) * (1 - z * z))
    q1, h = (rng.standard_normal(s).astype(np.float32) for s in ((64, 1, 128), (64, 30, 128)))
    Wq, Wk = (rng.standard_normal((64, 128)).astype(np.float32) * 0.1 for _ in range(2))
    K = matmul_last(h, Wk.T)
    de1 = rng.random((64, 1, 30)).astype(np.float32)
    row("a decoder step's additive score, K = U_a h once  (U_a h every step), fwd+bwd",
        lambda: projected_additive_score_backward(
            de1, projected_additive_score_forward(q1, K, Wq, v, v)[1]),
        lambda: additive_score_backward(de1, additive_score_forward(q1, h, Wq, Wk, v, v)[1]))
    gi, gh = (rng.standard_normal((64, 192)).astype(np.float32) for _ in range(2))
    row("GRU r, z: one sigmoid over (B, 2H)  (one each), B=64 H=64",
        lambda: stable_sigmoid(gi[:, :128] + gh[:, :128]),
        lambda: [stable_sigmoid(gi[:, i:i + 64] + gh[:, i:i + 64]) for i in (0, 64)])
    for shape in ((256, 128, 128), (256, 20, 20)):
        e = rng.standard_normal(shape).astype(np.float32)
        row(f"softmax in one array  (a temporary per step), {shape}",
            lambda: softmax_in_place(e.copy()), lambda: softmax_plain(e.copy()))
    e = rng.standard_normal((256, 128, 128)).astype(np.float32)
    everything = np.ones(e.shape, bool)
    row("softmax_forward(e) without a mask  (an all-True mask), (256, 128, 128)",
        lambda: softmax_forward(e), lambda: softmax_forward(e, everything))
    for B in (4, 8):
        x = rng.standard_normal((B, 64, 32, 32)).astype(np.float32)
        mlp = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in ((16, 64), 16, (64, 16), 64)]
        row(f"channel gate without permutations  (permute, MLP, permute back), ({B}, 64, 32, 32)",
            lambda: fast.channel_gate_backward(x, fast.channel_gate_forward(x, *mlp)[1]),
            lambda: F.channel_gate_backward(x, F.channel_gate_forward(x, *mlp)[1]))
    shares_rows()
    gam_shares_rows()
    try:
        load_cmudict()
    except DataUnavailable as err:
        print(f"(the g2p row is skipped: {err})")
    else:  # the full preset's model, one training step (a new batch each call)
        grouped, plain = (Trainer(TrainConfig(task="g2p", **{**G2P_PRESETS["full"],
                                                             "length_groups": k}))
                          for k in (16, 1))
        row("g2p full model's training step in 16 length groups  (random batches)",
            grouped.train_step, plain.train_step)
    print("\ngain = plain / idiom; below 1 the plain expression is the faster one "
          "(the transposed-copy idiom was dropped for that reason)")


if __name__ == "__main__":
    main()
