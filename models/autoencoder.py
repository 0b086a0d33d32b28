"""Reconstruction detectors in torch: a plain autoencoder and a variational autoencoder.

Both learn to reconstruct normal rows. The recipe that makes them work on tabular data (issue 10:
the earlier version scored 0.708 mean ROC-AUC on the ADBench development sets, benchmarks/
bench_detect.py):

- inputs standardised to the training mean and unit variance (after the base class's robust
  scaling), so no feature dominates the loss because of its units;
- a narrow code (``latent_dim``, at most half the features) behind dropout and weight decay, so the
  network learns the bulk's structure rather than the identity;
- early stopping on a held-out slice of the training rows, restoring the best epoch;
- a small ensemble of ``n_members`` networks with their own initialisations, trained side by side
  (Adam's updates are per parameter, so one summed loss trains each as if alone) and averaged:
  a single network's score depends a lot on its seed;
- score = per-feature standardised reconstruction error: feature j's squared error divided by its
  mean on the training rows, summed. Features the bulk itself reconstructs badly (noise, discrete
  codes) would otherwise outvote the features where an anomaly is truly unusual.

The explanation is exact: feature j contributes its own standardised error (averaged over the
members). The VAE scores the reconstruction of its posterior mean (deterministic, so saved and
reloaded models score identically); its KL term only regularises training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.registry import register
from models.torch_nets import TorchDetector, holdout_split, to_tensor, train_network

_MIN_STEPS_PER_EPOCH = 8
_MIN_BATCH_SIZE = 16


class _StackedLinear(nn.Module):
    """``n_members`` independent linear layers applied in one batched matmul (members x rows x features).

    One kernel for all members instead of a Python loop over them: on a busy 2-core host the
    per-step Python overhead, not the arithmetic, is what a small network's training costs.
    """

    def __init__(self, n_members: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default initialisation range
        self.weight = nn.Parameter(torch.empty(n_members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def _mlp(n_members: int, n_in: int, hidden_units: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(_StackedLinear(n_members, n_in, hidden_units), nn.ReLU(), nn.Dropout(dropout),
                         _StackedLinear(n_members, hidden_units, n_out))


class _AutoEncoder(nn.Module):
    def __init__(self, n_members: int, n_features: int, hidden_units: int, latent_dim: int, dropout: float):
        super().__init__()
        self.n_members = n_members
        self.encoder = _mlp(n_members, n_features, hidden_units, latent_dim, dropout)
        self.decoder = _mlp(n_members, latent_dim, hidden_units, n_features, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rows (rows x features) -> every member's reconstruction (members x rows x features)."""
        return self.decoder(self.encoder(x.expand(self.n_members, -1, -1)))

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return ((self(x) - x) ** 2).sum(dim=2).mean()  # mean over members and rows


class _VariationalAutoEncoder(nn.Module):
    def __init__(self, n_members: int, n_features: int, hidden_units: int, latent_dim: int, dropout: float,
                 beta: float):
        super().__init__()
        self.n_members = n_members
        self.beta = beta
        self.body = nn.Sequential(_StackedLinear(n_members, n_features, hidden_units), nn.ReLU(), nn.Dropout(dropout))
        self.mean = _StackedLinear(n_members, hidden_units, latent_dim)
        self.log_var = _StackedLinear(n_members, hidden_units, latent_dim)
        self.decoder = _mlp(n_members, latent_dim, hidden_units, n_features, dropout)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x.expand(self.n_members, -1, -1))
        return self.mean(h), self.log_var(h).clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)[0])

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mean, log_var = self.encode(x)
        if self.training:  # reparameterised sample while training; the mean when monitoring
            z = mean + torch.exp(0.5 * log_var) * torch.randn(mean.shape, generator=generator)
        else:
            z = mean
        reconstruction = 0.5 * ((self.decoder(z) - x) ** 2).sum(dim=2)
        kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(dim=2)
        return (reconstruction + self.beta * kl).mean()


class _ReconstructionDetector(TorchDetector):
    def __init__(self, hidden_units: int = 64, latent_dim: int = 8, dropout: float = 0.2, n_members: int = 3,
                 epochs: int = 50, **kw):
        # 50 epochs: with dropout the held-out loss creeps down for long after the ranking has settled.
        super().__init__(epochs=epochs, **kw)
        self.hidden_units = hidden_units
        self.latent_dim = latent_dim
        self.dropout = dropout
        self.n_members = n_members

    def _latent(self, n_features: int) -> int:
        # A code as wide as the input can learn the identity and reconstruct anomalies too.
        return max(1, min(self.latent_dim, n_features // 2))

    def _members(self) -> int:
        if self.n_members < 1:
            raise ValueError(f"n_members must be at least 1, got {self.n_members}")
        return int(self.n_members)

    def _loss(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (x,) = batch
        return net.loss(x, self._train_generator)

    def _network_input(self, Z: np.ndarray) -> np.ndarray:
        return (Z - self.input_mean_) / self.input_std_

    def _fit(self, Z: np.ndarray, y: np.ndarray | None) -> None:
        std = Z.std(axis=0)
        self.input_mean_, self.input_std_ = Z.mean(axis=0), np.where(std > 1e-9, std, 1.0)
        generator = self._generator()
        self._train_generator = torch.Generator().manual_seed(self.random_state + 1)
        net = self._seeded_build(Z.shape[1])
        X = to_tensor(self._network_input(Z))
        train_idx, held_idx = holdout_split(len(Z), self.validation_share, generator)
        batch_size = min(self.batch_size, max(_MIN_BATCH_SIZE, len(train_idx) // _MIN_STEPS_PER_EPOCH))
        # Dropout draws from torch's global generator: seed it inside a fork so fits are
        # reproducible and the caller's random state is left as it was.
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.random_state + 2)
                self.history_ = train_network(
                    net, self._loss, (X[train_idx],), (X[held_idx],), epochs=self.epochs, batch_size=batch_size,
                    learning_rate=self.learning_rate, weight_decay=self.weight_decay, patience=self.patience,
                    generator=generator, epoch_callback=self.epoch_callback)
        finally:
            del self._train_generator
        self.net_ = net
        mean_error = self._member_errors(Z).mean(axis=0)  # members x features, on the training rows
        self.error_scale_ = np.where(mean_error > 1e-12, mean_error, 1.0)

    def _member_errors(self, Z: np.ndarray) -> np.ndarray:
        """Raw squared reconstruction errors (rows x members x features)."""
        return self._batched(Z, lambda x: ((self.net_(x) - x) ** 2).transpose(0, 1))

    def _contributions(self, Z: np.ndarray) -> np.ndarray:
        return (self._member_errors(Z) / self.error_scale_[None, :, :]).mean(axis=1)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        return self._contributions(Z).sum(axis=1)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"input_mean": self.input_mean_, "input_std": self.input_std_, "error_scale": self.error_scale_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.input_mean_, self.input_std_ = state["input_mean"], state["input_std"]
        self.error_scale_ = state["error_scale"]


@register
class AutoencoderDetector(_ReconstructionDetector):
    """Small ensemble of fully connected autoencoders; score = per-feature standardised squared error."""

    name = "autoencoder"

    def _build(self, n_features: int) -> nn.Module:
        return _AutoEncoder(self._members(), n_features, self.hidden_units, self._latent(n_features), self.dropout)


@register
class VAEDetector(_ReconstructionDetector):
    """Variational autoencoders (Gaussian encoder, beta-weighted KL); score = standardised error of the mean."""

    name = "vae"

    def __init__(self, beta: float = 1.0, **kw):
        super().__init__(**kw)
        self.beta = beta

    def _build(self, n_features: int) -> nn.Module:
        return _VariationalAutoEncoder(self._members(), n_features, self.hidden_units, self._latent(n_features),
                                       self.dropout, self.beta)
