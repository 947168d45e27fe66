"""Mutation testing: plant one realistic bug at a time and check that a test fails.

    .venv/bin/python tests/mutants.py              # every mutant, 2 at a time (~15 min)
    .venv/bin/python tests/mutants.py --list       # the mutants, one a line
    .venv/bin/python tests/mutants.py --only gru   # those whose name contains "gru"

A mutant is one exact text replacement in one file of numpygam/ (the text
must occur exactly once, so the list cannot go stale silently), run against
the test files most likely to notice it.  Each mutant runs in a fresh copy of
numpygam/ and tests/ in a temporary folder, so the working tree is never
touched, even if the run is killed.  Hypothesis's seed is fixed, so a run is
repeatable.  A mutant is "killed" when pytest fails; it "survives" when every
selected test still passes.  The mutation score is killed / all.

Each mutant is a bug someone could really write: a forgotten term of a
derivative, an accumulation written as an assignment, a transpose left out,
a loop that stops after its first chunk, a guard that was dropped.  Mutants
that are equivalent (the same results on every input) are listed in
EQUIVALENT with the reason, and are not counted.

Not part of CI's default run (it takes minutes); run it before and after
changing a backward pass or a test.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Mutant(NamedTuple):
    name: str
    path: str       # relative to numpygam/
    old: str        # occurs exactly once in the file
    new: str
    tests: tuple    # pytest arguments: files, node ids, -k expressions


# the test files of each op, module or file (tests/functional/test_<file>.py for
# numpygam/functional/<file>.py, tests/nn/ and tests/fast/ likewise)
SOFTMAX = ("tests/functional/test_softmax.py", "tests/functional/test_attention.py")
LOG_SOFTMAX = ("tests/functional/test_softmax.py", "tests/functional/test_loss.py")
LOSS = ("tests/functional/test_loss.py",)
ACTIVATIONS = ("tests/functional/test_activations.py",)
LINEAR = ("tests/functional/test_linear.py",)
SCORES = ("tests/functional/test_scores.py", "tests/functional/test_attention.py")
ATTENTION = ("tests/functional/test_attention.py",)
LUONG = ("tests/functional/test_luong.py", "tests/nn/test_attention.py")
MULTIHEAD = ("tests/functional/test_multihead.py", "tests/nn/test_multihead.py")
GRU = ("tests/functional/test_gru.py", "tests/nn/test_recurrent.py")
NORM = ("tests/functional/test_norm.py", "tests/nn/test_conv.py")
CONV = ("tests/functional/test_conv.py", "tests/fast/test_conv.py")  # PAIRS: every method
POOL = ("tests/functional/test_pool.py",)
SHUFFLE = ("tests/functional/test_shuffle.py",)
PADDING = ("tests/fast/test_conv.py",)  # replicate padding: through every conv method
# the textbook gates: nn.GAM runs the fast floor's unless set_fast(False), so the twin
# tests (fast against textbook) are the ones that see them
GAM = ("tests/fast/test_twins.py", "tests/fast/test_gam.py", "tests/nn/test_gam.py",
       "-k", "not over_shapes")
OPTIM = ("tests/test_optim.py",)
GRADCHECK = ("tests/test_gradcheck.py",)
MODULE = ("tests/nn/test_module.py",)
LAYER_NORM = ("tests/functional/test_layer_norm.py", "tests/nn/test_transformer.py")
GELU = ("tests/functional/test_activations.py", "tests/nn/test_transformer.py")
DROPOUT = ("tests/functional/test_dropout.py", "tests/nn/test_transformer.py")
TRANSFORMER = ("tests/nn/test_transformer.py",)
NN_MULTIHEAD = ("tests/nn/test_multihead.py", "tests/nn/test_transformer.py")

MUTANTS = [
    # -- softmax, log-softmax, cross-entropy --------------------------------------------
    Mutant("softmax: row max taken over the masked entries", "functional/softmax.py",
           "where=mask, initial=-np.inf", "where=~mask, initial=-np.inf", SOFTMAX),
    Mutant("softmax: all-masked rows divide by zero", "functional/softmax.py",
           "total[total == 0] = 1", "pass", SOFTMAX),
    Mutant("softmax: masked entries keep their score", "functional/softmax.py",
           "e[~mask] = -np.inf", "pass", SOFTMAX),
    Mutant("softmax backward: the row sum term dropped", "functional/softmax.py",
           "a * (dweights - np.sum(a * dweights, axis=-1, keepdims=True))", "a * dweights",
           SOFTMAX),
    Mutant("log_softmax backward: the sum of dy left out", "functional/softmax.py",
           "dy - cache.probs * dy.sum(axis=-1, keepdims=True)", "dy - cache.probs", LOG_SOFTMAX),
    Mutant("logsumexp: the max not subtracted", "functional/softmax.py",
           "m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))",
           "np.log(np.sum(np.exp(x), axis=-1, keepdims=True))", LOG_SOFTMAX),
    Mutant("cross_entropy backward: divided by every token, not the real ones",
           "functional/loss.py", "/ max(cache.count, 1))", "/ max(cache.valid.size, 1))", LOSS),
    Mutant("cross_entropy backward: ignored tokens get a gradient", "functional/loss.py",
           "dz *= cache.valid[..., None]", "pass", LOSS),
    # -- activations, linear ---------------------------------------------------------------
    Mutant("relu backward: x >= 0 passes the gradient at 0", "functional/activations.py",
           "positive = ~(x <= 0)", "positive = ~(x < 0)", ACTIVATIONS),
    Mutant("sigmoid backward: s (1 - s) written as (1 - s)", "functional/activations.py",
           "ds * cache.s * (1 - cache.s)", "ds * (1 - cache.s)", ACTIVATIONS),
    Mutant("tanh backward: 1 - y^2 written as 1 - y", "functional/activations.py",
           "dy * (1 - cache.y * cache.y)", "dy * (1 - cache.y)", ACTIVATIONS),
    Mutant("stable_sigmoid: exp(-x) instead of exp(-|x|)", "functional/activations.py",
           "denominator = np.exp(-np.abs(x))", "denominator = np.exp(-x)", ACTIVATIONS),
    Mutant("linear backward: db is the mean, not the sum", "functional/linear.py",
           "drows.sum(axis=0) if cache.has_bias", "drows.mean(axis=0) if cache.has_bias", LINEAR),
    # -- scores, context, attention ----------------------------------------------------
    Mutant("dot backward: the scale forgotten in dq", "functional/scores.py",
           "dq = cache.scale * (de @ cache.k)", "dq = de @ cache.k", SCORES),
    Mutant("general backward: W not transposed in dq", "functional/scores.py",
           "dq = dqW @ cache.W.T", "dq = dqW @ cache.W", SCORES),
    Mutant("additive backward: tanh' written as 1 - z", "functional/scores.py",
           "(1 - z * z)", "(1 - z)", SCORES),
    Mutant("additive backward: dWk from the queries' sum", "functional/scores.py",
           "dWk = (dK.transpose(0, 2, 1) @ cache.k)", "dWk = (dQ.transpose(0, 2, 1) @ cache.k)",
           SCORES),
    Mutant("concat backward: dW's halves swapped", "functional/scores.py",
           "np.concatenate([dWq, dWk], axis=1)", "np.concatenate([dWk, dWq], axis=1)", SCORES),
    Mutant("location score: dk is not zero", "functional/scores.py",
           "(grads[0], np.zeros_like(k))", "(grads[0], np.ones_like(k))", SCORES),
    Mutant("context backward: a used for a^T", "functional/attention.py",
           "dvalues = a.transpose(0, 2, 1) @ dc", "dvalues = a @ dc", ATTENTION),
    Mutant("attention backward: dweights ignored", "functional/attention.py",
           "da = da + dweights", "da = da", ATTENTION),
    # -- Luong: attentional hidden state, local attention -----------------------------------
    Mutant("attentional hidden: dc and dh split at the wrong column", "functional/luong.py",
           "dcat[..., :cache.context_size], dcat[..., cache.context_size:]",
           "dcat[..., :cache.context_size], dcat[..., -cache.context_size:]", LUONG),
    Mutant("local-p backward: divided by sigma, not sigma^2", "functional/luong.py",
           "/ (cache.sigma ** 2)", "/ cache.sigma", LUONG),
    Mutant("local-p backward: the factor S of p_t = S sigma(.) left out", "functional/luong.py",
           "du = dp * cache.S * cache.sig", "du = dp * cache.sig", LUONG),
    Mutant("local window: [p - D, p + D) instead of [p - D, p + D]", "functional/luong.py",
           "mask = np.abs(s - p[..., None]) <= D", "mask = np.abs(s - p[..., None]) < D", LUONG),
    # -- multi-head attention ------------------------------------------------------------
    Mutant("multi-head backward: the keys' gradient from the values' heads",
           "functional/multihead.py", "linear_backward(_merge_heads(dKh, H), k_cache)",
           "linear_backward(_merge_heads(dVh, H), k_cache)", MULTIHEAD),
    Mutant("multi-head: scale 1/sqrt(E) instead of 1/sqrt(d)", "functional/multihead.py",
           "scale=1 / math.sqrt(E // H)", "scale=1 / math.sqrt(E)", MULTIHEAD),
    # -- GRU ------------------------------------------------------------------------------
    Mutant("GRU step backward: dgh's candidate part without r", "functional/gru.py",
           "dgh = np.concatenate([da_r, da_z, da_n * r], axis=1)",
           "dgh = np.concatenate([da_r, da_z, da_n], axis=1)", GRU),
    Mutant("GRU step backward: dz = dh' (n - h)", "functional/gru.py",
           "dz = dh_new * (h - n)", "dz = dh_new * (n - h)", GRU),
    Mutant("GRU BPTT: db_hh assigned at each step, not accumulated", "functional/gru.py",
           "db_hh += dgh.sum(axis=0)", "db_hh = dgh.sum(axis=0)", GRU),
    Mutant("GRU BPTT: a padded step does not pass dh on", "functional/gru.py",
           "dh = np.where(m, dh_through_z + dgh @ cache.W_hh, dh)",
           "dh = dh_through_z + dgh @ cache.W_hh", GRU),
    Mutant("GRU reverse: dx not put back in the input's order", "functional/gru.py",
           "        dx = np.take_along_axis(dx, cache.order[..., None], axis=1)",
           "        pass", GRU),
    Mutant("GRU cell backward: dh forgets the path through z", "functional/gru.py",
           "dh = dh + dgh @ cache.W_hh", "dh = dgh @ cache.W_hh", GRU),
    # -- batch norm, padding, pooling, shuffle ----------------------------------------
    Mutant("batch norm backward: the xhat mean(g xhat) term left out", "functional/norm.py",
           "(g - mean_g - cache.xhat * mean_gx)", "(g - mean_g)", NORM),
    Mutant("batch norm: running variance not unbiased", "functional/norm.py",
           "momentum * var * (N / (N - 1))", "momentum * var", NORM),
    Mutant("replicate padding backward: the bottom rows not folded", "functional/padding.py",
           "d[:, :, -1, :] += dxp[:, :, -p:, :].sum(axis=2)", "pass", PADDING),
    Mutant("pooling backward: overlapping windows assigned, not added", "functional/pool.py",
           "dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += share",
           "dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] = share", POOL),
    Mutant("channel shuffle backward: the forward's shuffle again", "functional/shuffle.py",
           "dy.reshape(B, C // groups, groups, H, W)", "dy.reshape(B, groups, C // groups, H, W)",
           SHUFFLE),
    # -- conv2d: the GEMM path, the DFT path, the reference ------------------------------
    Mutant("conv GEMM: dW assigned per chunk of images, not accumulated", "fast/conv_gemm.py",
           "dWm += windows[chunk]", "dWm = windows[chunk]", CONV),
    Mutant("conv GEMM: only the first chunk of images computed", "fast/conv_gemm.py",
           "for chunk in _chunks(B, Ho * Wo * Wm.shape[0]):",
           "for chunk in _chunks(B, Ho * Wo * Wm.shape[0])[:1]:", CONV),
    Mutant("conv GEMM dx (Cout > Cin): kernel offsets assigned, not added", "fast/conv_gemm.py",
           "dxp[:, u:u + stride * Ho:stride, v:v + stride * Wo:stride] +=",
           "dxp[:, u:u + stride * Ho:stride, v:v + stride * Wo:stride] =", CONV),
    Mutant("conv GEMM dx (stride 2): rows the forward never reached dropped",
           "fast/conv_gemm.py", "(K - 1, K - 1 + extra_h)", "(K - 1, K - 1)", CONV),
    Mutant("conv reference: col2im assigns overlapping windows", "functional/conv.py",
           "            dxp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += \\",
           "            dxp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride] = \\",
           CONV),
    Mutant("conv reference backward: every group uses the first group's weights",
           "functional/conv.py", "W_g = W[g * Cout_g:(g + 1) * Cout_g].reshape(Cout_g, -1)",
           "W_g = W[:Cout_g].reshape(Cout_g, -1)", CONV),
    Mutant("conv DFT: overlapping tiles assigned, not added", "fast/conv_dft.py",
           "dxe[:, :, i * step:i * step + T, j * step:j * step + T] += tiles[:, i, j]",
           "dxe[:, :, i * step:i * step + T, j * step:j * step + T] = tiles[:, i, j]", CONV),
    Mutant("conv DFT: dW's blocks stop one channel short", "fast/conv_dft.py",
           "slice(start, min(start + step, outs.stop))",
           "slice(start, min(start + step, outs.stop - 1))", CONV),
    Mutant("conv DFT: the Nyquist frequency counted twice", "fast/conv_dft.py",
           "np.where((k == 0) | (2 * k == N), 1.0, 2.0)", "np.where(k == 0, 1.0, 2.0)", CONV),
    Mutant("conv DFT backward: dx's spectrum without the conjugate", "fast/conv_dft.py",
           "dxp = _overlap_add(signal(dx_hat_conj, grid, x_at, x_at, sign=1), tiling, s)",
           "dxp = _overlap_add(signal(dx_hat_conj, grid, x_at, x_at), tiling, s)", CONV),
    # -- GAM gates -----------------------------------------------------------------------
    Mutant("channel gate backward: the direct path dout * gate forgotten", "functional/gam.py",
           "return dout * cache.gate + dpixels.transpose(0, 3, 1, 2)",
           "return dpixels.transpose(0, 3, 1, 2)", GAM),
    Mutant("spatial gate backward: the channel shuffle not undone", "functional/gam.py",
           "        dgate = channel_shuffle_backward(dgate, cache.groups)", "        pass",
           GAM),
    # -- optimisers ------------------------------------------------------------------------
    Mutant("Adam: the second moment's bias correction without the square root",
           "optim/adam.py", "root_correction = np.sqrt(1 - beta2 ** self.t)",
           "root_correction = 1 - beta2 ** self.t", OPTIM),
    Mutant("Adam: weight decay with the wrong sign", "optim/adam.py",
           "p.grad + self.weight_decay * p.data", "p.grad - self.weight_decay * p.data", OPTIM),
    Mutant("SGD: dampening ignored", "optim/sgd.py", "(1 - self.dampening) * g", "g", OPTIM),
    Mutant("SGD: Nesterov's look-ahead dropped", "optim/sgd.py",
           "g = g + self.momentum * self.buffers[i] if self.nesterov else self.buffers[i]",
           "g = self.buffers[i]", OPTIM),
    Mutant("clip_grad_norm_: the condition inverted", "optim/clip.py",
           "if coef < 1:", "if coef > 1:", OPTIM),
    # -- the module cache rule (nn/module.py) ---------------------------------------------
    Mutant("module caches: eval mode keeps every call's cache", "nn/module.py",
           "        if not self.training:\n            stack.clear()\n", "", MODULE),
    Mutant("module caches: first in, first out", "nn/module.py",
           "return stack.pop()", "return stack.pop(0)", MODULE),
    Mutant("module caches: backward with none left reuses a stale one", "nn/module.py",
           "        if not stack:\n            raise", "        if stack is None:\n            raise",
           MODULE),
    # -- gradcheck -------------------------------------------------------------------------
    Mutant("gradcheck: an inf gradient not looked for, only NaN", "gradcheck.py",
           "if not np.isfinite(values).all():", "if np.isnan(values).any():", GRADCHECK),
    Mutant("gradcheck: a NaN gradient's error counted as zero", "gradcheck.py",
           "if not np.isfinite(values).all():", "if False:", GRADCHECK),
    Mutant("gradcheck: the stencil divided by 6h, not 12h", "gradcheck.py",
           "/ (12 * h)", "/ (6 * h)", GRADCHECK),
    Mutant("gradcheck: a misshaped gradient broadcast, not reported", "gradcheck.py",
           "if analytic is None or np.shape(analytic) != numerical.shape:",
           "if analytic is None:", GRADCHECK),
    Mutant("gradcheck: dout all ones, not random", "gradcheck.py",
           "douts = _random_like(outs, rng)\n    grads",
           "douts = tuple(np.ones_like(o) for o in outs)\n    grads",
           GRADCHECK),
    # -- the Transformer ----------------------------------------------------------------------
    Mutant("layer norm: the mean(g * xhat) term forgotten", "functional/layer_norm.py",
           "- xhat * np.mean(g * xhat, axis=-1, keepdims=True)) * inv_std",
           ") * inv_std", LAYER_NORM),
    Mutant("layer norm: dweight not summed over the batch, only the last row",
           "functional/layer_norm.py", "np.sum(dy * xhat, axis=lead)",
           "(dy * xhat).reshape(-1, dy.shape[-1])[-1]", LAYER_NORM),
    Mutant("gelu: the x phi(x) term of the derivative forgotten", "functional/activations.py",
           "return dy * (cache.cdf + x * pdf)", "return dy * cache.cdf", GELU),
    Mutant("dropout: kept values not rescaled by 1 / (1 - p)", "functional/dropout.py",
           ".astype(x.dtype) / x.dtype.type(1 - p)", ".astype(x.dtype)", DROPOUT),
    Mutant("encoder layer (post-norm): the residual around the feed-forward dropped",
           "nn/transformer.py",
           "d = self.norm1.backward(d + self._ff_block_backward(d))",
           "d = self.norm1.backward(self._ff_block_backward(d))",
           TRANSFORMER),
    Mutant("decoder layer: the memory's gradient as keys only, not also as values",
           "nn/transformer.py", "return dq, dk + dv  # the memory", "return dq, dk  # the memory",
           TRANSFORMER),
    Mutant("decoder layer (pre-norm): the cross-attention's query gradient skips norm2",
           "nn/transformer.py", "d = d + self.norm2.backward(dq)", "d = d + dq", TRANSFORMER),
    Mutant("decoder stack: dmemory from the last layer only, not summed", "nn/transformer.py",
           "dmemory = dmemory + dm", "dmemory = dm", TRANSFORMER),
    Mutant("float masks: a float attn_mask ignored", "nn/multihead.py",
           "bias = m if bias is None else bias + m", "pass", NN_MULTIHEAD),
]

# name -> why the mutant computes the same results as the original on every input
EQUIVALENT = {}


class StaleMutant(Exception):
    """The mutant's text is no longer in its file (exactly once)."""


def mutate(source_root, mutant):
    """Apply the mutant to the copy under source_root; its text must occur exactly once."""
    path = source_root / "numpygam" / mutant.path
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise StaleMutant(f"its text occurs {count} times in {mutant.path}, not once: "
                          "update tests/mutants.py")
    path.write_text(text.replace(mutant.old, mutant.new))


def snapshot(into):
    """Copy numpygam/, tests/ and pyproject.toml: the tree as it is when the run starts."""
    for folder in ("numpygam", "tests"):
        shutil.copytree(ROOT / folder, into / folder,
                        ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    shutil.copy(ROOT / "pyproject.toml", into)


def run_tests(base, mutant, timeout):
    """(verdict, seconds, last line of pytest's output) for one mutant (None: the original)."""
    with tempfile.TemporaryDirectory(prefix="numpygam-mutant-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(base, tmp, dirs_exist_ok=True)
        if mutant is not None:
            try:
                mutate(tmp, mutant)
            except StaleMutant as stale:
                return "STALE", 0.0, str(stale)
        tests = mutant.tests if mutant is not None else ("tests/",)
        env = dict(os.environ, PYTHONPATH=str(tmp), OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        env.pop("HYPOTHESIS_PROFILE", None)
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "--hypothesis-seed=0", *tests]
        if mutant is None:
            cmd = [sys.executable, "-c", "import numpygam; print(numpygam.__file__)"]
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed (timeout)", time.perf_counter() - start, ""
        seconds = time.perf_counter() - start
        lines = (done.stdout + done.stderr).strip().splitlines() or [""]
        if mutant is None:  # the copy, not the installed package, must be what is imported
            if not lines[-1].startswith(str(tmp)):
                raise SystemExit(f"the tests import numpygam from {lines[-1]}, not the copy")
            return "ok", seconds, lines[-1]
        if done.returncode == 0:
            return "SURVIVED", seconds, lines[-1]
        if done.returncode == 1:
            return "killed", seconds, lines[-1]
        return f"killed (pytest exit {done.returncode})", seconds, lines[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--only", default="", help="run the mutants whose name contains this")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if args.only.lower() in m.name.lower()]
    if args.list:
        for m in chosen:
            print(f"{m.path:<26} {m.name}")
        print(f"{len(chosen)} mutants")
        return 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="numpygam-snapshot-") as base, \
            ThreadPoolExecutor(max(1, args.jobs)) as pool:
        snapshot(Path(base))  # later edits to the working tree do not leak into the run
        run_tests(base, None, 120)  # the import check
        results = pool.map(lambda m: (m, run_tests(base, m, args.timeout)), chosen)
        survivors, equivalent, stale, killed = [], [], [], 0
        for m, (verdict, seconds, last) in results:
            if verdict == "SURVIVED" and m.name in EQUIVALENT:
                verdict = "equivalent"
                equivalent.append(m)
            elif verdict == "SURVIVED":
                survivors.append(m)
            elif verdict == "STALE":
                stale.append((m, last))
            else:
                killed += 1
            print(f"{verdict:<18} {seconds:6.1f}s  {m.path:<24} {m.name}", flush=True)
    counted = len(chosen) - len(equivalent) - len(stale)
    score = killed / counted if counted else 1.0
    print(f"\n{killed} of {counted} mutants killed ({100 * score:.1f}%), "
          f"{len(survivors)} survived, {len(equivalent)} equivalent (not counted); "
          f"{time.perf_counter() - start:.0f} s")
    for m in equivalent:
        print(f"  equivalent: {m.name}: {EQUIVALENT[m.name]}")
    for m in survivors:
        print(f"  SURVIVED: {m.name} ({m.path}: {m.old!r} -> {m.new!r})")
    for m, why in stale:
        print(f"  STALE (not run): {m.name}: {why}")
    return 2 if stale else 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
