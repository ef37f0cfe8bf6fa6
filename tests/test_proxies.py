"""Zero-cost proxies: deterministic, mask-aware, the model left untouched."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nas.exceptions import ConfigError
from nas.training.proxies import PROXY_NAMES, masked_weights, zero_cost_proxies


class TinyMasked(nn.Module):
    """Two masked linear layers exposing ``masked_parameters`` like the project's builders."""

    def __init__(self, mask1):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w1 = nn.Parameter(torch.randn(3, 4, generator=g) * mask1)
        self.w2 = nn.Parameter(torch.randn(2, 3, generator=g))
        self.register_buffer("m1", mask1)
        self.register_buffer("m2", torch.ones(2, 3))

    def masked_parameters(self):
        yield "w1", self.w1, self.m1
        yield "w2", self.w2, self.m2

    def forward(self, x):
        return torch.relu(x @ (self.w1 * self.m1).T) @ (self.w2 * self.m2).T


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 4, generator=g), torch.randint(0, 2, (8,), generator=g)


def test_proxies_deterministic_and_model_untouched():
    model = TinyMasked(torch.ones(3, 4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _batch()
    a = zero_cost_proxies(model, x, y, nn.CrossEntropyLoss())
    b = zero_cost_proxies(model, x, y, nn.CrossEntropyLoss())
    assert a == b and list(a) == list(PROXY_NAMES)
    assert all(math.isfinite(v) for v in a.values())
    assert a["synflow"] > 0 and a["log_synflow"] == pytest.approx(math.log1p(a["synflow"]))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert all(p.grad is None for p in model.parameters())


def test_masks_reduce_params_and_scores():
    x, y = _batch()
    dense = zero_cost_proxies(TinyMasked(torch.ones(3, 4)), x, y, nn.CrossEntropyLoss())
    mask = torch.ones(3, 4)
    mask[:, :2] = 0
    sparse = zero_cost_proxies(TinyMasked(mask), x, y, nn.CrossEntropyLoss())
    assert dense["params"] == 18 and sparse["params"] == 12
    assert sparse["synflow"] < dense["synflow"]


def test_plain_module_uses_all_weight_matrices():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert [n for n, _, _ in masked_weights(net)] == ["0.weight", "2.weight"]
    x, y = _batch()
    out = zero_cost_proxies(net, x, y, nn.CrossEntropyLoss())
    assert out["params"] == sum(p.numel() for p in net.parameters())


def test_project_builder_if_available():
    builders = pytest.importorskip("search_spaces.builders")
    from search_spaces.genome import Genome

    torch.manual_seed(0)  # entry point of this test: the builder's initialisation
    model = builders.build_model(Genome("watts_strogatz", {"k": 4, "p": 0.5}, nodes=12, seed=1).dag(), "ff", num_classes=3, in_features=5)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 5, generator=g), torch.randint(0, 3, (6,), generator=g)
    out = zero_cost_proxies(model, x, y, nn.CrossEntropyLoss())
    nonzero = sum(int(m.sum()) for _, _, m in model.masked_parameters())
    assert out["params"] >= nonzero and out["synflow"] > 0


def test_bad_inputs():
    with pytest.raises(ConfigError, match="non-empty batch"):
        zero_cost_proxies(TinyMasked(torch.ones(3, 4)), torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), nn.CrossEntropyLoss())
    with pytest.raises(ConfigError, match="no weight matrices"):
        zero_cost_proxies(nn.ReLU(), torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), nn.CrossEntropyLoss())
