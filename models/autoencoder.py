"""Reconstruction detectors in torch: a plain autoencoder and a variational autoencoder.

Both learn to reconstruct normal rows; the score is the summed squared reconstruction error, and
the explanation is exact: feature j contributes its own squared error.

What makes them work on tabular data (issue 10: the earlier version scored about chance on the
ADBench sets): the network sees the robustly scaled features standardised to unit training
variance, so no feature's error dominates because its IQR is tiny (discrete features) and
heavy tails are not squashed away by ``signed_log`` (anomalies live there); the code is narrower
than the input; every epoch takes at least ``_MIN_STEPS_PER_EPOCH`` optimiser steps, so small
tables are trained rather than stopped early after a handful of steps; early stopping restores
the best held-out epoch. The VAE scores the reconstruction of its posterior mean
(deterministic, so saved and reloaded models score identically); its KL term only regularises
training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.registry import register
from models.torch_nets import TorchDetector, holdout_split, to_tensor, train_network

_MIN_STEPS_PER_EPOCH = 8
_MIN_BATCH_SIZE = 16


class _AutoEncoder(nn.Module):
    def __init__(self, n_features: int, hidden_units: int, latent_dim: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden_units), nn.ReLU(), nn.Linear(hidden_units, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class _VariationalAutoEncoder(nn.Module):
    def __init__(self, n_features: int, hidden_units: int, latent_dim: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, hidden_units), nn.ReLU())
        self.mean = nn.Linear(hidden_units, latent_dim)
        self.log_var = nn.Linear(hidden_units, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, n_features))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h), self.log_var(h).clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)[0])


class _ReconstructionDetector(TorchDetector):
    def __init__(self, hidden_units: int = 64, latent_dim: int = 8, **kw):
        super().__init__(**kw)
        self.hidden_units = hidden_units
        self.latent_dim = latent_dim

    def _latent(self, n_features: int) -> int:
        # A code as wide as the input can learn the identity and reconstruct anomalies too.
        return max(1, min(self.latent_dim, n_features // 2))

    def _loss(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (x,) = batch
        return ((net(x) - x) ** 2).sum(dim=1).mean()

    def _network_input(self, Z: np.ndarray) -> np.ndarray:
        return (Z - self.input_mean_) / self.input_std_

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        std = Z.std(axis=0)
        self.input_mean_, self.input_std_ = Z.mean(axis=0), np.where(std > 1e-9, std, 1.0)
        generator = self._generator()
        net = self._seeded_build(Z.shape[1])
        X = to_tensor(self._network_input(Z))
        train_idx, held_idx = holdout_split(len(Z), self.validation_share, generator)
        batch_size = min(self.batch_size, max(_MIN_BATCH_SIZE, len(train_idx) // _MIN_STEPS_PER_EPOCH))
        self.history_ = train_network(
            net, self._loss, (X[train_idx],), (X[held_idx],), epochs=self.epochs, batch_size=batch_size,
            learning_rate=self.learning_rate, weight_decay=self.weight_decay, patience=self.patience,
            generator=generator, epoch_callback=self.epoch_callback)
        self.net_ = net

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        return self._batched(Z, lambda x: (self.net_(x) - x) ** 2)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._batched(Z, lambda x: ((self.net_(x) - x) ** 2).sum(dim=1))

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"input_mean": self.input_mean_, "input_std": self.input_std_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.input_mean_, self.input_std_ = state["input_mean"], state["input_std"]


@register
class AutoencoderDetector(_ReconstructionDetector):
    """Fully connected autoencoder; score = squared reconstruction error."""

    name = "autoencoder"

    def _build(self, n_features: int) -> nn.Module:
        return _AutoEncoder(n_features, self.hidden_units, self._latent(n_features))


@register
class VAEDetector(_ReconstructionDetector):
    """Variational autoencoder (Gaussian encoder, beta-weighted KL); score = reconstruction error of the mean."""

    name = "vae"

    def __init__(self, beta: float = 1.0, **kw):
        super().__init__(**kw)
        self.beta = beta

    def _build(self, n_features: int) -> nn.Module:
        return _VariationalAutoEncoder(n_features, self.hidden_units, self._latent(n_features))

    def _loss(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (x,) = batch
        mean, log_var = net.encode(x)
        if net.training:  # reparameterised sample while training; the mean when monitoring
            z = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=self._train_generator)
        else:
            z = mean
        reconstruction = 0.5 * ((net.decoder(z) - x) ** 2).sum(dim=1)
        kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(dim=1)
        return (reconstruction + self.beta * kl).mean()

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        self._train_generator = torch.Generator().manual_seed(self.random_state + 1)
        try:
            super()._fit(Z, y)
        finally:
            del self._train_generator
