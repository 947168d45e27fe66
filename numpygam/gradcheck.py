"""Gradient checking by finite differences, with a report that explains itself.

The analytic gradient from a backward pass is compared with a numerical one.
For a forward pass f and a fixed random upstream gradient dout, the scalar

    L(inputs) = sum(f(inputs) * dout)

has dL/dinput = backward(dout) (this is exactly what a backward pass computes),
and its numerical derivative in each element x_k is the five-point central
difference

    dL/dx_k ~ [L(x - 2h e_k) - 8 L(x - h e_k) + 8 L(x + h e_k) - L(x + 2h e_k)] / (12 h)

whose truncation error is O(h^4), so that with h = 1e-3 both truncation and
float64 rounding stay near 1e-12.  Each element is scored by the relative error

    rel_k = |a_k - n_k| / max(|a_k| + |n_k|, tiny)

tiny keeps gradients that are zero in truth from dividing noise by noise.
It is at least the rounding error of the stencil itself, about
1.5 eps sum|out * dout| / h (eps = 2.2e-16), divided by tolerance / 10, so
that float64 rounding alone can never fail a check; a real bug changes the
gradient by far more than that.  A correct backward in float64 scores below
1e-7; a wrong one scores near 1.  Everything runs in float64, whatever the
dtype of the inputs given.

Non-smooth points: ReLU at 0 or a max with a tie has no derivative, and a
stencil that straddles one sees a jump.  Keep inputs 2h away from such points,
or pass a smaller h.

The reports are printed in English, or in Chinese after set_report_language("zh") (what
the Chinese lessons' first cell does, through translation.chinese_verdicts); their
messages are templates of numpygam.course.feedback.
"""
import copy
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np

from .course.feedback import check_lang, say

TOLERANCE = 1e-7
_LANGUAGE = ["en"]  # the language reports are printed in (set_report_language)


def set_report_language(lang):
    """Print every report from now on in lang ("en" or "zh"); returns the one it replaces."""
    previous, _LANGUAGE[0] = _LANGUAGE[0], check_lang(lang)
    return previous


def report_language():
    """The language reports are printed in."""
    return _LANGUAGE[0]


@dataclass
class InputReport:
    """How the analytic gradient of one input compares with the numerical one."""
    name: str
    shape: tuple
    max_rel_error: float
    worst_index: tuple
    analytic: float   # at the worst element
    numerical: float  # at the worst element
    tolerance: float = TOLERANCE
    problem: str = ""  # set when the gradient is missing or misshaped (in English)
    # the problem as a function of the language, for verdict(lang)
    said: Optional[Callable[[str], str]] = field(default=None, repr=False, compare=False)

    @property
    def passed(self):
        return self.max_rel_error < self.tolerance

    def verdict(self, lang=None):
        """The verdict in words, in lang (default: report_language())."""
        lang = report_language() if lang is None else check_lang(lang)
        e = self.max_rel_error
        if self.problem:
            return say("WRONG: {problem}", lang,
                       problem=self.said(lang) if self.said else self.problem)
        if e < self.tolerance:
            return say("correct: the error is float64 rounding", lang)
        if e < 1e-4:
            return say("suspicious: too large for float64 rounding; a kink (ReLU at 0, a max "
                       "tie) within 2h of the point, or a small bug", lang)
        return say("WRONG: the backward pass disagrees with finite differences", lang)

    def text(self, lang=None):
        """The report's row, in lang (default: report_language())."""
        lang = report_language() if lang is None else check_lang(lang)
        values = dict(name=self.name, shape=str(self.shape), error=self.max_rel_error,
                      index=self.worst_index, analytic=self.analytic,
                      numerical=self.numerical, verdict=self.verdict(lang))
        if self.passed:
            return say("{name:<12} {shape:<16} {error:10.2e}  pass  at {index}: analytic "
                       "{analytic:+.6e}, numerical {numerical:+.6e}  ({verdict})", lang, **values)
        return say("{name:<12} {shape:<16} {error:10.2e}  FAIL  at {index}: analytic "
                   "{analytic:+.6e}, numerical {numerical:+.6e}  ({verdict})", lang, **values)

    def __str__(self):
        return self.text()


@dataclass
class GradcheckReport:
    """The result of `gradcheck` or `gradcheck_module`: one row per input."""
    name: str
    inputs: List[InputReport] = field(default_factory=list)

    @property
    def passed(self):
        return all(r.passed for r in self.inputs)

    @property
    def max_rel_error(self):
        return max((r.max_rel_error for r in self.inputs), default=0.0)

    def failures(self):
        return [r for r in self.inputs if not r.passed]

    def text(self, lang=None):
        """The report, a line per input, in lang (default: report_language())."""
        lang = report_language() if lang is None else check_lang(lang)
        head = say("gradcheck {name}: PASSED", lang, name=self.name) if self.passed else \
            say("gradcheck {name}: FAILED", lang, name=self.name)
        return "\n".join([head] + ["  " + r.text(lang) for r in self.inputs])

    def __str__(self):
        return self.text()

    def raise_if_failed(self):
        """Raise AssertionError with the report if any input failed."""
        if not self.passed:
            raise AssertionError(str(self))
        return self


def numerical_gradient(loss, x, h=1e-3):
    """Five-point central difference of the scalar function loss() in every element of x.

    x is perturbed in place and restored; loss() must read x afresh each call.
    """
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views onto x and grad
    for k in range(flat.size):
        x0 = flat[k]
        values = []
        for step in (-2, -1, 1, 2):
            flat[k] = x0 + step * h
            values.append(loss())
        flat[k] = x0
        gflat[k] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
    return grad


def _compare(name, analytic, numerical, tiny, tolerance):
    if analytic is None or np.shape(analytic) != numerical.shape:
        if analytic is None:
            def said(lang):
                return say("backward returned None, expected shape {expected}", lang,
                           expected=numerical.shape)
        else:
            def said(lang):
                return say("backward returned shape {shape}, expected shape {expected}", lang,
                           shape=np.shape(analytic), expected=numerical.shape)
        return InputReport(name, numerical.shape, np.inf, (), np.nan, np.nan, tolerance,
                           problem=said("en"), said=said)
    if numerical.size == 0:
        return InputReport(name, numerical.shape, 0.0, (), 0.0, 0.0, tolerance)
    analytic = np.asarray(analytic, dtype=np.float64)
    for values, ours in ((analytic, True), (numerical, False)):
        if not np.isfinite(values).all():  # never a rounding error: fail, and say so
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
            value = values[where]

            def said(lang, ours=ours, value=value, where=where):
                if ours:
                    return say("backward returned {value} at {index}", lang, value=value,
                               index=where)
                return say("the forward's finite differences gave {value} at {index}", lang,
                           value=value, index=where)
            return InputReport(name, numerical.shape, np.inf, where, float(analytic[where]),
                               float(numerical[where]), tolerance, problem=said("en"),
                               said=said)
    rel = np.abs(analytic - numerical) / np.maximum(np.abs(analytic) + np.abs(numerical), tiny)
    worst = np.unravel_index(int(np.argmax(rel)), rel.shape)
    return InputReport(name, numerical.shape, float(rel[worst]), tuple(int(i) for i in worst),
                       float(analytic[worst]), float(numerical[worst]), tolerance)


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _to64(x):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x.astype(np.float64)
    return x


def _random_like(outs, rng):
    return tuple(rng.standard_normal(np.shape(o)) for o in outs)


def _dot(outs, douts):
    return sum(float(np.sum(o * d)) for o, d in zip(outs, douts))


def _noise_floor(outs, douts, h, tiny, tolerance):
    """max(tiny, 10 / tolerance * the stencil's rounding error)."""
    magnitude = sum(float(np.sum(np.abs(o * d))) for o, d in zip(outs, douts))
    return max(tiny, 10 / tolerance * 1.5 * np.finfo(np.float64).eps * magnitude / h)


def gradcheck(forward: Callable, backward: Callable, inputs: dict, options: Optional[dict] = None,
              name: Optional[str] = None, h=1e-3, tiny=1e-4, tolerance=TOLERANCE, seed=0):
    """Check backward(dout, cache) against finite differences of forward.

    forward, backward: an op's pair, e.g. F.linear_forward, F.linear_backward.
    inputs: the differentiable arguments, by name, in the forward's order
            ({"x": x, "W": W, "b": b}); an entry may be None (an optional
            input left out), and then backward must return None in its place.
    options: the other keyword arguments (masks, integer targets, flags).
    Returns a GradcheckReport; print it, or call .raise_if_failed().

    >>> import numpy as np, numpygam.functional as F
    >>> rng = np.random.default_rng(0)
    >>> x, W = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    >>> gradcheck(F.linear_forward, F.linear_backward, {"x": x, "W": W, "b": None}).passed
    True
    """
    rng = np.random.default_rng(seed)
    args = {k: _to64(v) for k, v in inputs.items()}
    options = {k: _to64(v) for k, v in (options or {}).items()}
    out, cache = forward(**args, **options)
    outs = _as_tuple(out)
    douts = _random_like(outs, rng)
    grads = _as_tuple(backward(douts if isinstance(out, tuple) else douts[0], cache))
    tiny = _noise_floor(outs, douts, h, tiny, tolerance)
    report = GradcheckReport(name or getattr(forward, "__name__", "op").replace("_forward", ""))
    if len(grads) != len(args):
        raise ValueError(f"gradcheck: backward returned {len(grads)} gradient(s) for the "
                         f"{len(args)} inputs {list(args)}; list every differentiable input, "
                         "in the forward's order")

    def loss():
        return _dot(_as_tuple(forward(**args, **options)[0]), douts)

    for (key, x), g in zip(args.items(), grads):
        if x is None:
            if g is not None:
                raise ValueError(f"gradcheck: input {key} was None but backward returned a gradient")
            continue
        x_work = x.copy()
        args[key] = x_work
        numerical = numerical_gradient(loss, x_work, h)
        args[key] = x
        report.inputs.append(_compare(key, g, numerical, tiny, tolerance))
    return report


def gradcheck_module(module, inputs: Sequence[np.ndarray], name=None, h=1e-3, tiny=1e-4,
                     tolerance=TOLERANCE, seed=0, check_inputs=None):
    """Check a module's backward: its input gradients and every parameter's .grad.

    module: an nn.Module; a float64 copy is checked, the module itself is untouched.
    inputs: the positional arguments of module(...). Float arrays are
            differentiated unless check_inputs (a list of booleans) says otherwise;
            integer arrays (token ids, lengths) and None are passed through.
    module.backward(*douts), given one gradient per output of forward, must return
    one gradient per differentiated input (a tuple when there are several).
    Buffers such as batch-norm running statistics are restored before every
    forward, so that the numerical loss is a function of the inputs alone.
    """
    module = copy.deepcopy(module).to(np.float64)
    rng = np.random.default_rng(seed)
    args = [_to64(x) for x in inputs]
    if check_inputs is None:
        check_inputs = [isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in args]
    buffers = {k: v.copy() for k, v in module.named_buffers()}

    def run():  # the backward below undoes only the last call: drop the others' caches
        module.clear_caches()
        module.set_buffers(buffers)
        return _as_tuple(module(*args))

    outs = run()
    douts = _random_like(outs, rng)
    tiny = _noise_floor(outs, douts, h, tiny, tolerance)
    run()  # the forward whose cache the backward below uses
    module.zero_grad()
    grads = _as_tuple(module.backward(*douts))  # one gradient per output of forward
    param_grads = {n: p.grad.copy() for n, p in module.named_parameters()}
    diff_positions = [i for i, c in enumerate(check_inputs) if c]
    if len(grads) < len(diff_positions):
        raise ValueError(f"gradcheck_module: backward returned {len(grads)} gradient(s) for "
                         f"{len(diff_positions)} differentiated input(s)")
    report = GradcheckReport(name or type(module).__name__)

    def loss():
        return _dot(run(), douts)

    for j, i in enumerate(diff_positions):
        x = args[i].copy()
        args[i] = x
        report.inputs.append(_compare(f"input{i}", grads[j], numerical_gradient(loss, x, h),
                                      tiny, tolerance))
    for pname, p in module.named_parameters():
        report.inputs.append(_compare(pname, param_grads[pname],
                                      numerical_gradient(loss, p.data, h), tiny, tolerance))
    return report
