"""Forward + backward of attention, numpygam vs PyTorch CPU, in the same process.

    python benchmarks/bench_attention.py

Each score with its softmax and context at B=64, Tq=20, Tk=50, D=256 (float32),
and multi-head attention at B=32, T=128, E=256, H=8.  Prints the ratio
numpygam time / torch time (issue 22's target: at most 1.2 for each): the fast floor
(numpygam.fast.attention_forward, nn modules as they run by default), then the same
on the textbook floor (numpygam.functional, set_fast(False)) for comparison.
"""
import math

import numpy as np
import torch

import numpygam.functional as F
from numpygam import fast, nn
from timing import median_seconds, report_row

B, Tq, Tk, D, A = 64, 20, 50, 256, 256


def torch_scores(score, q, k, p):
    if score == "dot":
        return q @ k.transpose(1, 2)
    if score == "scaled_dot":
        return q @ k.transpose(1, 2) / math.sqrt(D)
    if score == "general":
        return (q @ p["W"]) @ k.transpose(1, 2)
    if score == "concat":
        Dq = q.shape[-1]
        W = p["W"]
        return torch.tanh((q @ W[:, :Dq].T)[:, :, None] + (k @ W[:, Dq:].T)[:, None]) @ p["v"]
    return torch.tanh((q @ p["Wq"].T + p["b"])[:, :, None] + (k @ p["Wk"].T)[:, None]) @ p["v"]


def main():
    rng = np.random.default_rng(0)

    def r(*s):
        return (rng.standard_normal(s) / math.sqrt(s[-1])).astype(np.float32)

    q, k, values = r(B, Tq, D), r(B, Tk, D), r(B, Tk, D)
    params = {"dot": {}, "scaled_dot": {}, "general": {"W": r(D, D)},
              "concat": {"W": r(A, 2 * D), "v": r(A)},
              "additive": {"Wq": r(A, D), "Wk": r(A, D), "v": r(A), "b": r(A)}}
    dc = r(B, Tq, D)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    print(f"scores + softmax + context, forward+backward, B={B} Tq={Tq} Tk={Tk} D={D}, float32")
    worst, textbook_rows = 0.0, []
    for score, p in params.items():
        name = "dot" if score == "scaled_dot" else score
        opts = {"scale": 1 / math.sqrt(D)} if score == "scaled_dot" else {}

        def ours():
            (c, a), cache = fast.attention_forward(q, k, values, name, **p, **opts)
            fast.attention_backward((dc, None), cache)

        def textbook():
            (c, a), cache = F.attention_forward(q, k, values, name, **p, **opts)
            F.attention_backward((dc, None), cache)

        leaves = {n: torch.tensor(v, requires_grad=True) for n, v in
                  {"q": q, "k": k, "values": values, **p}.items()}
        dct = torch.tensor(dc)

        def theirs():
            for leaf in leaves.values():
                leaf.grad = None
            e = torch_scores(score, leaves["q"], leaves["k"], leaves)
            c = torch.softmax(e, -1) @ leaves["values"]
            c.backward(dct)

        t_ours, t_theirs = median_seconds(ours), median_seconds(theirs)
        worst = max(worst, t_ours / t_theirs)
        print(report_row(score, t_ours, t_theirs))
        textbook_rows.append(report_row(f"{score}, textbook", median_seconds(textbook),
                                        t_theirs))

    Bm, T, E, H = 32, 128, 256, 8
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, batch_first=True)
    m = nn.MultiheadAttention(E, H)
    m.load_state_dict({kk: v.numpy() for kk, v in tm.state_dict().items()})
    x = r(Bm, T, E)
    dy = r(Bm, T, E)
    xt, dyt = torch.tensor(x, requires_grad=True), torch.tensor(dy)

    def ours_mha():
        out, _ = m(x, x, x)
        m.backward(dy)

    def theirs_mha():
        xt.grad = None
        out, _ = tm(xt, xt, xt)
        out.backward(dyt)

    t_ours, t_theirs = median_seconds(ours_mha), median_seconds(theirs_mha)
    worst = max(worst, t_ours / t_theirs)
    print(f"\nmulti-head self-attention, forward+backward, B={Bm} T={T} E={E} H={H}, float32")
    print(report_row("MultiheadAttention", t_ours, t_theirs))
    print(f"\nworst ratio {worst:.2f}x (target <= 1.2x)")
    m.set_fast(False)
    textbook_rows.append(report_row("MultiheadAttention, textbook", median_seconds(ours_mha),
                                    t_theirs))
    print("\nThe textbook floor (numpygam.functional), the same PyTorch times:")
    print("\n".join(textbook_rows))


if __name__ == "__main__":
    main()
