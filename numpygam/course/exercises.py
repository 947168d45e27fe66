"""The homework's exercises: what each asks the student to write, how it is checked,
and the derivation that walks the student to the formula.

    EXERCISES["softmax"] -> Exercise(module, write, checks, lesson, walkthrough)

module:  the library file under numpygam/functional whose solutions it removes
write:   the functions the student writes (each holds a "# BEGIN SOLUTION" block)
checks:  names in numpygam/examples.py: each example's backward is run with the
         student's functions in place of the library's, on the example's inputs
lesson:  the lesson that derives it
walkthrough: markdown (with $LaTeX$), the exercise notebook's first cell

The order of EXERCISES is the order `homework` lists them and the gradebook's columns.
"""
from typing import NamedTuple


class Exercise(NamedTuple):
    module: str
    write: tuple
    checks: tuple
    lesson: str
    walkthrough: str


SOFTMAX_WALKTHROUGH = r"""
Softmax over the last axis, $a_j = e^{s_j} / \sum_k e^{s_k}$ (masked keys get $a_j = 0$).
Its Jacobian is $\partial a_j / \partial s_k = a_j (\delta_{jk} - a_k)$, so the
chain rule $ds_k = \sum_j da_j \, \partial a_j / \partial s_k$ collapses to one line:

$$ds = a \odot \left(da - \textstyle\sum_j a_j\, da_j\right)$$

The sum is over the last axis, one number per row (keep its axis so it broadcasts).
A masked key has $a_j = 0$, so its gradient is 0 with no special case; a fully
masked row has $a = 0$ and gets zeros too.
"""

SCORES_WALKTHROUGH = r"""
Three score functions, each $e_{ij} = \mathrm{score}(q_i, k_j)$, shape (B, Tq, Tk).
Given $de$ (same shape):

* **dot** $e = \lambda\, q k^\top$: $dq = \lambda\, de\, k$, $dk = \lambda\, de^\top q$
  (batched: $\lambda$ times `de @ k` and `de.transpose(0, 2, 1) @ q`).
* **general** $e = q W k^\top$: with $u = q W$, $dq = de\, k W^\top$, $dk = de^\top u$,
  $dW = \sum_b q^\top de\, k$.
* **additive** (Bahdanau) $e_{ij} = v^\top \tanh(W_q q_i + W_k k_j + b)$: with
  $t = \tanh(\cdot)$ of shape (B, Tq, Tk, A), $dt = de \cdot v$ then
  $dz = dt\,(1 - t^2)$; $dv = \sum de\, t$; $db = \sum dz$; sum $dz$ over $j$ for the
  query side ($dq = (\sum_j dz) W_q$, $dW_q = \sum (\sum_j dz)^\top q$) and over $i$ for
  the key side ($dk$, $dW_k$ likewise).
"""

CONTEXT_WALKTHROUGH = r"""
The context vector $c_i = \sum_j a_{ij} h_j$ is one batched matrix product, $c = a\,h$
with $a$ (B, Tq, Tk) and $h$ (B, Tk, Dv). Each $a_{ij}$ multiplies $h_j$ into $c_i$, so

$$da_{ij} = dc_i \cdot h_j \quad (da = dc\, h^\top), \qquad
dh_j = \sum_i a_{ij}\, dc_i \quad (dh = a^\top dc).$$

Check the shapes: $dc\,h^\top$ is (B, Tq, Dv)(B, Dv, Tk) = (B, Tq, Tk).
"""

CHANNEL_GATE_WALKTHROUGH = r"""
GAM's channel gate: permute $x$ (B, C, H, W) to pixels $p(x)$ (B, H, W, C), run a
two-layer MLP on each pixel's C channels, $\mathrm{att} = W_2\,\mathrm{relu}(W_1 p(x) + b_1) + b_2$,
take $g = \mathrm{sigmoid}(\mathrm{att})$ (the paper; the blog's code has no sigmoid), permute back
and multiply: $\mathrm{out} = x \odot g$.

Backward, from $d\mathrm{out}$: the product gives $dg = d\mathrm{out} \odot x$ and a
first part of $dx = d\mathrm{out} \odot g$. Permute $dg$ to pixels, go back through the
sigmoid (whose derivative is $g(1-g)$), the second Linear, the ReLU and the first Linear (their
backward functions are given), then permute that input gradient back and add it to $dx$.
"""

CONV2D_WALKTHROUGH = r"""
The textbook convolution as one matrix product per group: im2col copies every K x K
patch of the padded input into a column, `cols` (Cin_g K K, B Ho Wo), and
$y_g = W_g\,\mathrm{cols}_g$ with $W_g$ reshaped to (Cout_g, Cin_g K K).

Backward is the product rule of that matrix product:
$dW_g = dy_g\, \mathrm{cols}_g^\top$ and $d\mathrm{cols}_g = W_g^\top dy_g$; then
`col2im` (given) adds each column entry back where im2col read it, and the padding's
backward (given) crops the padded border. $db = \sum_{b,i,j} dy$. Put dy in the
(Cout, B Ho Wo) layout first: `dy.transpose(1, 0, 2, 3).reshape(Cout, -1)`.
"""

BATCH_NORM_WALKTHROUGH = r"""
Batch norm per channel over the $N = B H W$ values: $\hat x = (x - \mu_B)/\sqrt{\mathrm{var}_B + \epsilon}$,
$y = \gamma \hat x + \beta$. The parameters are easy: $d\gamma = \sum dy\,\hat x$,
$d\beta = \sum dy$. For $dx$, with $g = dy\,\gamma$, every $x$ also moves $\mu_B$ and
$\mathrm{var}_B$, which gives the compact form

$$dx = \frac{g - \mathrm{mean}(g) - \hat x\,\mathrm{mean}(g\,\hat x)}{\sqrt{\mathrm{var}_B+\epsilon}}$$

(means per channel). In eval mode $\mu_B, \mathrm{var}_B$ are the running statistics, constants,
so $dx = g / \sqrt{\mathrm{var}_B + \epsilon}$.

You write it in two pieces, as `batch_norm2d_backward` (given) calls them:
`batch_norm_sums` returns $d\gamma, d\beta$, and `batch_norm_dx` takes them and returns $dx$
(with $\mathrm{mean}(g) = \gamma\, d\beta / N$ and $\mathrm{mean}(g\,\hat x) = \gamma\, d\gamma / N$).
"""

GRU_STEP_WALKTHROUGH = r"""
One GRU step, PyTorch's formulation: $r = \mathrm{sigmoid}(a_r)$, $z = \mathrm{sigmoid}(a_z)$,
$n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))$, $h' = (1 - z) n + z h$.
The function you write is the heart of its backward: from $dh'$, the gradients of the
gates' pre-activations.

$$dn = dh' (1 - z), \quad dz = dh' (h - n), \quad da_n = dn (1 - n^2),$$
$$da_r = da_n\, (W_{hn} h + b_{hn})\, r (1 - r), \quad da_z = dz\, z (1 - z).$$

Return the input projection's gradient $[da_r, da_z, da_n]$, the hidden projection's
$[da_r, da_z, da_n \odot r]$ (the candidate sees $W_{hn} h$ through $r$), and $dh' z$, the
part of $dh$ that flows straight through $h'$. `gru_cell_backward` (given) turns these
into $dx$, $dh$ and the weight gradients.
"""

EXERCISES = {
    "softmax": Exercise("softmax", ("softmax_backward",),
                        ("softmax", "softmax (a fully masked row)"),
                        "04_backprop_through_attention", SOFTMAX_WALKTHROUGH),
    "scores": Exercise("scores", ("dot_score_backward", "general_score_backward",
                                  "additive_score_backward"),
                       ("dot_score", "general_score", "additive_score",
                        "additive_score (no bias)"),
                       "04_backprop_through_attention", SCORES_WALKTHROUGH),
    "context": Exercise("attention", ("context_backward",), ("context",),
                        "04_backprop_through_attention", CONTEXT_WALKTHROUGH),
    "channel_gate": Exercise("gam", ("channel_gate_backward",),
                             ("channel_gate", "channel_gate (blog)"),
                             "07_gam_channel_gate", CHANNEL_GATE_WALKTHROUGH),
    "conv2d": Exercise("conv", ("conv2d_backward",), ("conv2d",),
                       "08_gam_spatial_gate", CONV2D_WALKTHROUGH),
    "batch_norm": Exercise("norm", ("batch_norm_sums", "batch_norm_dx"),
                           ("batch_norm2d", "batch_norm2d (eval)"),
                           "08_gam_spatial_gate", BATCH_NORM_WALKTHROUGH),
    "gru_step": Exercise("gru", ("_step_backward",), ("gru_cell",), "05_encoder_decoder",
                         GRU_STEP_WALKTHROUGH),
}
