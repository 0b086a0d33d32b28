"""Shared machinery of the torch detectors: input transform, the training loop, weight IO.

Training is small and deterministic for a given ``random_state``: a private torch.Generator for
initialisation, shuffling and the held-out split; at most two threads; early stopping on a
held-out slice of the training rows, restoring the best epoch's weights. An optional
``epoch_callback(epoch, val_loss) -> bool`` sees every epoch: True stops training early, and an
exception it raises (e.g. Optuna's pruning signal) propagates to the caller.
Weights are saved as a state_dict of tensors (``weights.pt``), loaded with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.base import BaseDetector

log = logging.getLogger(__name__)

EpochCallback = Callable[[int, float], bool]
WEIGHTS_FILE = "weights.pt"
_MAX_THREADS = 2
_MIN_RELATIVE_GAIN = 1e-3  # smaller held-out improvements count as no progress for early stopping
_SCORE_BLOCK_ROWS = 65_536


def signed_log(Z: np.ndarray) -> np.ndarray:
    """sign(z) * log1p(|z|): keeps order and sign but tames heavy tails (counts, amounts) for SGD."""
    return np.sign(Z) * np.log1p(np.abs(Z))


def to_tensor(A: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(A, dtype=np.float32))


def holdout_split(n: int, share: float, generator: torch.Generator,
                  y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out); stratified by ``y`` when given so both sides keep positives."""
    groups = [np.arange(n)] if y is None else [np.flatnonzero(y == c) for c in np.unique(y)]
    train, held = [], []
    for idx in groups:
        perm = idx[torch.randperm(len(idx), generator=generator).numpy()]
        n_held = int(round(len(idx) * share)) if len(idx) >= 4 else 0
        held.append(perm[:n_held])
        train.append(perm[n_held:])
    return np.concatenate(train), np.concatenate(held)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with at most ``n`` intra-op threads, restoring the previous setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, min(n, previous)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_network(net: nn.Module, loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
                  train: tuple[torch.Tensor, ...], held: tuple[torch.Tensor, ...], *, epochs: int,
                  batch_size: int, learning_rate: float, weight_decay: float, patience: int,
                  generator: torch.Generator, epoch_callback: EpochCallback | None = None) -> list[float]:
    """Adam with mini-batches and early stopping on ``held``; leaves the best weights in ``net``.

    Runs on one thread: batches this small lose more to thread hand-offs than they gain.

    ``train``/``held`` are tuples of tensors indexed together (inputs, and labels if any);
    ``loss_fn(net, batch)`` returns the mean loss of a batch. Returns the held-out loss per epoch.
    """
    optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    n = len(train[0])
    monitor = held if len(held[0]) else train  # tiny data: fall back to the training loss
    best_loss, best_state, stale, history = float("inf"), copy.deepcopy(net.state_dict()), 0, []
    with torch_threads(1):
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch_size):
                batch = tuple(t[order[start:start + batch_size]] for t in train)
                optimiser.zero_grad()
                loss_fn(net, batch).backward()
                optimiser.step()
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(net, monitor))
            history.append(val_loss)
            if val_loss < best_loss - _MIN_RELATIVE_GAIN * abs(best_loss if np.isfinite(best_loss) else val_loss):
                best_loss, best_state, stale = val_loss, copy.deepcopy(net.state_dict()), 0
            else:
                stale += 1
            if epoch_callback is not None and epoch_callback(epoch, val_loss):
                log.debug("epoch_callback stopped training after epoch %d", epoch)
                break
            if stale >= patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return history


class TorchDetector(BaseDetector):
    """Base of the torch detectors: common parameters, deterministic setup and weight IO.

    Subclasses build their network in ``_build(n_features)`` and train it in ``_fit``.
    """

    def __init__(self, epochs: int = 100, batch_size: int = 256, learning_rate: float = 1e-3,
                 weight_decay: float = 1e-5, patience: int = 8, validation_share: float = 0.2,
                 random_state: int = 42, epoch_callback: EpochCallback | None = None, **kw):
        super().__init__(**kw)
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_share = validation_share
        self.random_state = random_state
        self.epoch_callback = epoch_callback

    def _build(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.random_state)

    def _seeded_build(self, n_features: int) -> nn.Module:
        """The network with initial weights fixed by ``random_state``, without touching global RNG state."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            return self._build(n_features)

    def _network_input(self, Z: np.ndarray) -> np.ndarray:
        """What the network sees for scaled rows ``Z``; ``signed_log`` unless a subclass says otherwise."""
        return signed_log(Z)

    def _batched(self, Z: np.ndarray, fn: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
        """Apply ``fn`` to transformed rows in blocks (bounded memory on millions of rows)."""
        parts = []
        with torch.no_grad(), torch_threads(_MAX_THREADS):
            for start in range(0, len(Z), _SCORE_BLOCK_ROWS):
                parts.append(fn(to_tensor(self._network_input(Z[start:start + _SCORE_BLOCK_ROWS]))).numpy())
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0,))

    def _save_extra(self, directory: Path) -> None:
        torch.save({k: v.detach().cpu() for k, v in self.net_.state_dict().items()}, directory / WEIGHTS_FILE)

    def _load_extra(self, directory: Path) -> None:
        net = self._build(self.n_features_in_)
        net.load_state_dict(torch.load(directory / WEIGHTS_FILE, weights_only=True))
        net.eval()
        self.net_ = net
