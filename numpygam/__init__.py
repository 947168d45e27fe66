"""numpygam: Bahdanau/Luong attention and GAM, from scratch in NumPy.

    numpygam.functional   forward/backward pairs (the math)
    numpygam.nn           modules with parameters, state_dict, train/eval
    numpygam.optim        SGD, Adam, gradient clipping
    numpygam.gradcheck    finite-difference checks with readable reports
    numpygam.memory       freed memory kept for the next step (on import; see there)
"""
from . import functional, nn, optim
from .gradcheck import GradcheckReport, gradcheck, gradcheck_module
from .memory import keep_freed_memory_unless_opted_out
from .nn.init import manual_seed

# Each step's arrays reuse the last step's memory instead of being faulted in afresh
# (GAM at (8, 64, 32, 32): 46 -> 37 ms a step); NUMPYGAM_KEEP_FREED_MEMORY=0 opts out.
FREED_MEMORY_KEPT = keep_freed_memory_unless_opted_out()

__version__ = "0.1.0"
