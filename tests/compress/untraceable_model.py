"""A user model torch.export cannot trace: its forward branches on a tensor's value (a data-dependent
Python `if`), which eager PyTorch runs happily."""

from torch import nn


class Gated(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.Linear(128, num_classes)

    def forward(self, x):
        h = self.features(x)
        if h.mean() > 10.0:  # never true on normalised images; still a data-dependent branch
            h = h * 0.5
        return self.head(h)


def build(num_classes: int = 10):
    return Gated(num_classes)
