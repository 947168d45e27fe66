"""numpygam.optim: optimisers that update Parameter.data from Parameter.grad."""
from .adam import Adam
from .clip import clip_grad_norm_
from .schedule import warmup_cosine
from .sgd import SGD
