"""numpygam.nn: modules that hold parameters and call the functional pairs."""
from .activation import ReLU, Sigmoid, Tanh
from .container import Sequential
from .embedding import Embedding
from .init import manual_seed
from .linear import Linear
from .module import Module, Parameter
from .attention import Attention, AttentionalHidden, LocalAttention
from .multihead import MultiheadAttention
