"""numpygam: Bahdanau/Luong attention and GAM, from scratch in NumPy.

    numpygam.functional   the textbook floor: forward/backward pairs, the formulas
    numpygam.fast         the fast floor beside it: the same ops, faster, each tested
                          equal to its textbook twin (numpygam.fast.TWINS)
    numpygam.nn           modules with parameters, state_dict, train/eval; each picks
                          its floor in its forward (`if self.fast:`)
    numpygam.optim        SGD, Adam, gradient clipping
    numpygam.gradcheck    finite-difference checks with readable reports

Importing numpygam changes nothing in the process (malloc, BLAS threads, fork hooks):
the train command and the benchmarks opt in where they start
(numpygam.fast.memory.keep_freed_memory).
"""
from . import fast, functional, nn, optim
from .gradcheck import GradcheckReport, gradcheck, gradcheck_module
from .nn.init import manual_seed

__version__ = "0.1.0"
