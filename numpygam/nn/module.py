"""Module and Parameter: the state that numpygam.functional leaves out.

A Module holds Parameters (arrays with a .grad), buffers (arrays that are state
but not trained, e.g. batch-norm running statistics) and child Modules, all as
plain attributes.  They are found by looking at the attributes in the order
they were set, which is also how PyTorch orders its state_dict keys.

    y = m(x)              # forward; caches what backward needs
    dx = m.backward(dy)   # adds into every p.grad, returns the input gradient(s)

The cache rule, the same for every module:

  * forward ends with self.push_cache(cache), backward starts with
    cache = self.pop_cache(): each call's cache (everything that call's backward
    needs, per-call flags included) goes on a stack of its own;
  * so a module called T times in training mode (a decoder step, a shared
    layer) is back-propagated by calling backward T times, last call first,
    which is exactly backpropagation through time's order; nothing outside a
    module ever reads or writes its caches;
  * in eval mode the stack holds only the latest call, so inference over
    10,000 steps keeps no more memory than one step (and a frozen model can
    still be differentiated once, e.g. for a saliency map, as in PyTorch);
  * backward with no forward left to undo raises a RuntimeError that says so;
  * clear_caches() drops every cache of a module and its children (a
    training-mode forward whose loss is thrown away, e.g. in gradcheck_module);
  * attributes a module sets for display (attention weights, GAM's gates,
    local-p's positions) describe its latest call; backward never reads them;
  * a backward checks its first gradient's shape against the output of the call it
    undoes before anything is popped, so a misshaped dout is one error naming both
    shapes, and a correct retry still works (Module.__call__ records the output's
    shape on a stack of its own, kept like the caches).

    rnn_cell.train()
    for t in range(T): h = rnn_cell(x[t], h)      # T caches pushed
    for t in reversed(range(T)): rnn_cell.backward(dh)  # T caches popped
"""
import contextlib
import functools

import numpy as np


class Parameter:
    """A trainable array: .data (the value) and .grad (dL/d data, same shape)."""

    def __init__(self, data):
        self.data = np.asarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def positive_ints(owner, **values):
    """Raise ValueError naming the first argument that is not an integer >= 1."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")


def data(p):
    """p.data, or None for a parameter left out (e.g. bias=False): what the functional ops take."""
    return None if p is None else p.data


def add_grads(*pairs):
    """p.grad += g for each (p, g); a parameter left out (None) is skipped.

    Gradients add up (+=), so that a module called several times before an
    optimiser step sums the contributions of every call.
    """
    for p, g in pairs:
        if p is not None:
            p.grad += g


def _shape_of(out):
    """The shape a backward's first gradient must have: the output's, or its first part's."""
    first = out[0] if isinstance(out, tuple) and out else out
    return first.shape if isinstance(first, np.ndarray) else None


def _checked(backward):
    """backward, preceded by the dout check of the cache rule (module docstring)."""
    @functools.wraps(backward)
    def checked(self, *args, **kwargs):
        shapes = self.__dict__.setdefault("_out_shapes", [])
        outermost = not self.__dict__.get("_in_backward", False)
        if outermost and shapes and args and isinstance(args[0], np.ndarray) \
                and shapes[-1] is not None and args[0].shape != shapes[-1]:
            raise ValueError(f"{type(self).__name__}.backward: the gradient has shape "
                             f"{args[0].shape}, expected {shapes[-1]} (the shape of the output "
                             f"of the forward it undoes); nothing was changed")
        self._in_backward = True
        try:
            result = backward(self, *args, **kwargs)
        finally:
            self._in_backward = not outermost
        if outermost and shapes:
            shapes.pop()
        return result
    checked.checks_dout = True
    return checked


class Module:
    """Base class: parameter discovery, state_dict, train/eval, zero_grad, dtype.

    fast: which floor a module with two computes on, read in its own forward
    (`if self.fast:`): True (the default) numpygam.fast, False numpygam.functional,
    the textbook; m.set_fast(False) switches m and every submodule.  Both give the
    same numbers (numpygam.fast.TWINS); a backward follows the floor its forward took.
    """

    training = True
    fast = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("backward")
        if own is not None and not getattr(own, "checks_dout", False):
            cls.backward = _checked(own)

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        shapes = self.__dict__.setdefault("_out_shapes", [])
        if not self.training:
            shapes.clear()
        shapes.append(_shape_of(out))
        return out

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    # -- the per-call caches (the rule is in the module docstring) --------------
    def push_cache(self, cache):
        """Keep what this call's backward needs: stacked in training, latest only in eval."""
        stack = self.__dict__.setdefault("_caches", [])
        if not self.training:
            stack.clear()
        stack.append(cache)

    def pop_cache(self):
        """The cache of the latest forward not yet back-propagated (last in, first out)."""
        stack = self.__dict__.get("_caches")
        if not stack:
            raise RuntimeError(f"{type(self).__name__}.backward: no forward left to undo; call "
                               "backward once per forward call, after it (in eval mode only "
                               "the latest call can be undone)")
        return stack.pop()

    def clear_caches(self):
        """Drop the caches of this module and every child (forwards never back-propagated)."""
        for m in self.modules():
            m.__dict__.pop("_caches", None)
            m.__dict__.pop("_out_shapes", None)

    # -- what the module holds -------------------------------------------------
    def register_buffer(self, name, value):
        """A named array that is state (saved, loaded) but not a parameter."""
        if "_buffer_names" not in self.__dict__:
            self._buffer_names = []
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, value)

    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(
                    isinstance(v, Module) for v in value):
                for i, v in enumerate(value):
                    yield f"{name}.{i}", v

    def named_parameters(self, prefix=""):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(f"{prefix}{name}.")

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        for name in self.__dict__.get("_buffer_names", []):
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child.named_buffers(f"{prefix}{name}.")

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return [m for _, m in self.named_modules()]

    # -- modes and gradients ---------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def set_fast(self, enabled=True):
        """Compute on the fast floor (True) or the textbook floor (False), this module
        and every submodule; returns self."""
        if not isinstance(enabled, bool):
            raise TypeError(f"set_fast: enabled must be True or False, got {enabled!r}")
        for m in self.modules():
            m.fast = enabled
        return self

    def zero_grad(self):
        for p in self.parameters():
            p.grad = np.zeros_like(p.data)

    def to(self, dtype):
        """Cast every parameter and floating buffer to dtype (e.g. np.float64), in place."""
        for m in self.modules():
            for name in m.__dict__.get("_buffer_names", []):
                value = getattr(m, name)
                if value.dtype.kind == "f":
                    setattr(m, name, value.astype(dtype))
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = p.grad.astype(dtype)
        return self

    # -- saving and loading ----------------------------------------------------
    def state_dict(self):
        """{dotted name: copy of the array}, with PyTorch's key names and order."""
        out = {}
        self._collect_state("", out)
        return out

    def _collect_state(self, prefix, out):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                out[prefix + name] = value.data.copy()
        for name in self.__dict__.get("_buffer_names", []):
            out[prefix + name] = np.array(getattr(self, name), copy=True)
        for name, child in self.named_children():
            child._collect_state(f"{prefix}{name}.", out)

    def load_state_dict(self, state_dict):
        """Copy arrays in; strict: a missing, unexpected or misshaped key is an error.

        Values may be NumPy arrays or anything np.asarray accepts (e.g. CPU torch
        tensors); each is cast to the dtype of the array it replaces.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if missing or unexpected:
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys "
                           f"{missing}, unexpected keys {unexpected}")
        converted = {}  # every key is checked and cast before anything changes
        for key, value in state_dict.items():
            value = np.asarray(value)
            if value.shape != own[key].shape:
                raise ValueError(f"load_state_dict for {type(self).__name__}: key '{key}' has "
                                 f"shape {value.shape}, expected {own[key].shape}")
            try:
                converted[key] = np.array(value, dtype=own[key].dtype, copy=True)
            except (TypeError, ValueError) as err:
                raise ValueError(f"load_state_dict for {type(self).__name__}: key '{key}' "
                                 f"cannot be cast to {own[key].dtype}: {err}") from None
        params = dict(self.named_parameters())
        for key, value in converted.items():
            if key in params:
                params[key].data = value
            else:
                self._set_buffer(key, value)
        return self

    def set_buffers(self, buffers):
        """Replace buffers by copies of the given {dotted name: array}."""
        for key, value in buffers.items():
            self._set_buffer(key, np.array(value, copy=True))

    def _set_buffer(self, key, value):
        prefix, _, name = key.rpartition(".")
        setattr(dict(self.named_modules())[prefix], name, value)

    def __repr__(self):
        children = "".join(f"\n  ({n}): " + repr(c).replace("\n", "\n  ")
                           for n, c in self.named_children())
        return f"{type(self).__name__}({self.extra_repr()}{children}{chr(10) if children else ''})"

    def extra_repr(self):
        return ""


@contextlib.contextmanager
def evaluating(module):
    """with evaluating(model): ... runs in eval mode (no caches, no dropout, running
    statistics), then restores the mode the module had, even if the block raises."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class PairModule(Module):
    """A module without parameters that applies one functional pair, y = op(x):
    subclasses set op_forward and op_backward (e.g. nn.ReLU, nn.GlobalAvgPool2d)."""

    def forward(self, x):
        y, cache = self.op_forward(x)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return self.op_backward(dy, self.pop_cache())
