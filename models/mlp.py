"""Supervised torch MLP for when labels exist (e.g. confirmed fraud from a review queue).

Class imbalance: the positive class is up-weighted in the loss by ``pos_weight`` = n_negative /
n_positive (``BCEWithLogitsLoss(pos_weight=...)``), and the early-stopping slice is stratified so it
keeps positives. The score is the logit of P(anomaly | x); like every detector the threshold is the
training-score percentile or contamination quantile, so "flag the top c share" means the same
thing for every model.

Explanation: gradient x input — d logit / d input times the input, with the training median
(0 after scaling) as the baseline; a first-order split of the logit over the features.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.registry import register
from models.torch_nets import TorchDetector, holdout_split, signed_log, to_tensor, train_network


@register
class MLPDetector(TorchDetector):
    """Two hidden layers, ReLU, weighted binary cross-entropy; needs labels y (1 = anomaly)."""

    name = "mlp"
    supervised = True

    def __init__(self, hidden_units: int = 64, n_layers: int = 2, **kw):
        super().__init__(**kw)
        self.hidden_units = hidden_units
        self.n_layers = n_layers

    def _build(self, n_features: int) -> nn.Module:
        layers: list[nn.Module] = []
        width = n_features
        for _ in range(max(1, self.n_layers)):
            layers += [nn.Linear(width, self.hidden_units), nn.ReLU()]
            width = self.hidden_units
        layers.append(nn.Linear(width, 1))
        return nn.Sequential(*layers)

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        assert y is not None  # the base class checks supervised detectors get labels
        generator = self._generator()
        net = self._seeded_build(Z.shape[1])
        X, Y = to_tensor(signed_log(Z)), torch.as_tensor(y, dtype=torch.float32)
        train_idx, held_idx = holdout_split(len(Z), self.validation_share, generator, y=y)
        positives = float(y[train_idx].sum())
        self.pos_weight_ = np.asarray((len(train_idx) - positives) / max(positives, 1.0))
        criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(float(self.pos_weight_)))

        def loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            x, target = batch
            return criterion(model(x).squeeze(1), target)

        self.history_ = train_network(
            net, loss, (X[train_idx], Y[train_idx]), (X[held_idx], Y[held_idx]), epochs=self.epochs,
            batch_size=self.batch_size, learning_rate=self.learning_rate, weight_decay=self.weight_decay,
            patience=self.patience, generator=generator, epoch_callback=self.epoch_callback)
        self.net_ = net

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._batched(Z, lambda x: self.net_(x).squeeze(1))

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        x = to_tensor(signed_log(Z)).requires_grad_(True)
        self.net_(x).sum().backward()
        return (x.grad * x).detach().numpy().astype(np.float64)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"pos_weight": self.pos_weight_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.pos_weight_ = state["pos_weight"]
