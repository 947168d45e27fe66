"""Softmax's backward on the fast floor: F.softmax_backward's twin
(numpygam/functional/softmax.py, where the formula is):

    de = a (da - sum_k a_k da_k)

with the row sums by np.vecdot (no (..., Tk) temporary for a * da) and the product
taken in place in the one new array.  Measured on 2 cores, float32 (timed with timeit,
the best of 5 x 20): 6.1 against 7.8 ms at multi-head sizes, (256, 128, 128); 90
against 121 us at (64, 20, 50).
"""
import numpy as np


def softmax_backward(dweights, cache):
    """F.softmax_backward's twin: de = a (da - sum_k a_k da_k) over the last axis.
    da: (..., Tk)   cache: F's SoftmaxCache(weights a)   ->   de: (..., Tk)"""
    a = cache.weights
    de = dweights - np.vecdot(a, dweights)[..., None]
    de *= a
    return de
