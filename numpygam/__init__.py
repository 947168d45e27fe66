"""numpygam: Bahdanau/Luong attention and GAM, from scratch in NumPy.

    numpygam.functional   forward/backward pairs (the math)
    numpygam.nn           modules with parameters, state_dict, train/eval
    numpygam.optim        SGD, Adam, gradient clipping
    numpygam.gradcheck    finite-difference checks with readable reports
"""
from . import functional, nn, optim
from .gradcheck import GradcheckReport, gradcheck, gradcheck_module
from .nn.init import manual_seed

__version__ = "0.1.0"
