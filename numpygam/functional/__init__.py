"""numpygam.functional: the math, as stateless forward/backward pairs.

    out, cache = op_forward(*inputs, **options)
    grads = op_backward(dout, cache)

Each op lives in the file named after its topic; its docstring states the
forward formula, the backward formula and every shape.
"""
from .activations import (relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
                          stable_sigmoid, tanh_backward, tanh_forward)
from .embedding import embedding_backward, embedding_forward
from .linear import linear_backward, linear_forward
from .loss import cross_entropy_backward, cross_entropy_forward
from .softmax import (log_softmax_backward, log_softmax_forward, logsumexp,
                      softmax_backward, softmax_forward)
