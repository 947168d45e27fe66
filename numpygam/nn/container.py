"""nn.Sequential: modules applied one after another; backward runs them in reverse."""
from .module import Module


class Sequential(Module):
    """y = m_n(...m_2(m_1(x))).  state_dict keys are "0.weight", "1.bias", ... as in PyTorch."""

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got "
                                f"{type(m).__name__}")
            setattr(self, str(i), m)

    def __len__(self):
        return sum(1 for _ in self.named_children())

    def __getitem__(self, i):
        return getattr(self, str(range(len(self))[i]))

    def forward(self, x):
        for _, m in self.named_children():
            x = m(x)
        return x

    def backward(self, dy):
        for _, m in reversed(list(self.named_children())):
            dy = m.backward(dy)
        return dy
