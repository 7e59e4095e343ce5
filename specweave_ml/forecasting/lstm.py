"""An LSTM forecaster in torch: a window of the past (log-differenced and standardised) in, the next ``horizon``
steps out (direct multi-step), seeded, early-stopped on the last window of its training history.

It follows the same contract as the other forecasters (``forecasting.models.Forecaster``), so the backtest, the
``ForecastModel`` wrapper (the scikit-learn contract), packaging and serving treat it like any of them.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np
from torch import nn  # this module is imported only when an LSTM is built or loaded (the `deep` extra)

from specweave_ml.forecasting.models import Forecaster
from specweave_ml.torchkit import ArrayWeights, EarlyStopping, torch_threads

log = logging.getLogger(__name__)


class LSTMForecaster(ArrayWeights, Forecaster):
    def __init__(self, horizon: int = 1, season_length: int = 1, window: Optional[int] = None, hidden_size: int = 32,
                 num_layers: int = 1, learning_rate: float = 0.01, max_epochs: int = 300, patience: int = 30,
                 batch_size: int = 64, random_state: int = 0, threads: int = 1, **_):
        self.horizon, self.season_length, self.window = horizon, season_length, window
        self.hidden_size, self.num_layers, self.learning_rate = hidden_size, num_layers, learning_rate
        self.max_epochs, self.patience, self.batch_size = max_epochs, patience, batch_size
        self.random_state, self.threads = random_state, threads

    def _empty_net(self):  # ArrayWeights: the network a saved model's weights are loaded into
        return _Net(self.hidden_size, self.num_layers, self.horizon)

    # the transform: log (a positive series) then first differences, standardised
    def _to(self, y: np.ndarray) -> np.ndarray:
        z = np.diff(np.log(y) if self.log_ else y)
        return (z - self.mean_) / self.std_

    def _windows(self, z: np.ndarray, L: int, h: int):
        starts = range(0, len(z) - L - h + 1)
        X = np.stack([z[s:s + L] for s in starts]) if len(starts) else np.zeros((0, L))
        Y = np.stack([z[s + L:s + L + h] for s in starts]) if len(starts) else np.zeros((0, h))
        return X, Y

    def fit(self, y, X, times):
        import torch

        self.y_ = y = np.asarray(y, float)
        self.log_ = bool((y > 0).all())
        raw = np.diff(np.log(y) if self.log_ else y)
        self.mean_, self.std_ = float(raw.mean()), float(raw.std() or 1.0)
        z = self._to(y)
        h = self.horizon
        L = self.window or max(2 * self.season_length, h, 8)
        L = min(L, max(len(z) - 2 * h, 4))
        self.window_ = L
        Xw, Yw = self._windows(z, L, h)
        # early stopping watches the last window of the history: the samples whose targets reach into its last h steps
        n_val = min(h, max(len(Xw) // 5, 1))
        train_X, train_Y, val_X, val_Y = Xw[:-n_val], Yw[:-n_val], Xw[-n_val:], Yw[-n_val:]
        with torch_threads(self.threads):
            torch.manual_seed(self.random_state)
            self.net_ = net = _Net(self.hidden_size, self.num_layers, h)
            opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
            loss_fn = nn.MSELoss()
            tx, ty = torch.tensor(train_X, dtype=torch.float32), torch.tensor(train_Y, dtype=torch.float32)
            vx, vy = torch.tensor(val_X, dtype=torch.float32), torch.tensor(val_Y, dtype=torch.float32)
            generator = torch.Generator().manual_seed(self.random_state)
            stopper, self.epochs_ = EarlyStopping(self.patience), 0
            for epoch in range(self.max_epochs):
                net.train()
                order = torch.randperm(len(tx), generator=generator)
                for i in range(0, len(tx), self.batch_size):
                    idx = order[i:i + self.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(net(tx[idx]), ty[idx])
                    loss.backward()
                    opt.step()
                net.eval()
                with torch.no_grad():
                    val = float(loss_fn(net(vx), vy))
                self.epochs_ = epoch + 1
                if stopper.stop(val, net):
                    break
            stopper.restore(net)
            self.best_val_loss_ = float(stopper.best)
            log.debug("lstm: %d epochs, best validation loss %.4f (window %d)", self.epochs_, stopper.best, L)
        return self

    def _predict_z(self, windows: np.ndarray) -> np.ndarray:
        import torch

        self.net_.eval()
        with torch.no_grad():
            return self.net_(torch.tensor(windows, dtype=torch.float32)).numpy().astype(float)

    def _invert(self, last_level: float, zs: np.ndarray) -> np.ndarray:
        steps = zs * self.std_ + self.mean_
        path = last_level + np.cumsum(steps)
        return np.exp(path) if self.log_ else path

    def forecast(self, steps, X_future=None, future=None):
        z, L, h = self._to(self.y_), self.window_, self.horizon
        base = np.log(self.y_) if self.log_ else self.y_
        history, level, out = list(z), base[-1], []
        while len(out) < steps:  # beyond the horizon: the forecast is fed back, a horizon at a time
            zs = self._predict_z(np.asarray(history[-L:])[None, :])[0]
            values = self._invert(level, zs)
            out.extend(values.tolist())
            history.extend(zs.tolist())
            level = np.log(values[-1]) if self.log_ else values[-1]
        return np.asarray(out[:steps])

    def fitted(self):
        z, L = self._to(self.y_), self.window_
        base = np.log(self.y_) if self.log_ else self.y_
        out = np.full(len(self.y_), np.nan)
        if len(z) > L:
            windows = np.stack([z[s:s + L] for s in range(0, len(z) - L)])
            first = self._predict_z(windows)[:, 0] * self.std_ + self.mean_
            level = base[L:len(z)] + first  # z[s+L] is the change from y[s+L] to y[s+L+1]
            out[L + 1:] = np.exp(level) if self.log_ else level
        return out

    def lag_importance(self, max_windows: int = 200) -> dict[str, float]:
        """Occlusion: how far the next-step forecast moves (in the modelled units: the change of the log for a positive
        series) when one position of the input window is replaced by its average, over the last ``max_windows``
        windows of the history."""
        z, L = self._to(self.y_), self.window_
        if len(z) <= L:
            return {}
        windows = np.stack([z[s:s + L] for s in range(max(0, len(z) - L - max_windows), len(z) - L)])
        base = self._predict_z(windows)[:, 0]
        out = {}
        for j in range(L):
            hidden = windows.copy()
            hidden[:, j] = 0.0  # the standardised mean change
            out[f"lag_{L - j}"] = float(np.mean(np.abs(self._predict_z(hidden)[:, 0] - base)) * self.std_)
        return out

    def components(self) -> dict:
        return {"kind": "LSTM", "window": self.window_, "epochs": self.epochs_, "best_validation_loss": self.best_val_loss_,
                "log": self.log_, "hidden_size": self.hidden_size}

    def describe(self) -> str:
        return f"LSTM ({self.hidden_size} units, window {self.window_}, {self.epochs_} epochs)"


class _Net(nn.Module):
    """One LSTM layer (or more) and a linear head from its last state to the next ``horizon`` steps. A module-level
    class, so a saved model pickles it by reference and the same weights give the same bytes."""

    def __init__(self, hidden: int, layers: int, horizon: int):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x):
        out, _ = self.lstm(x.unsqueeze(-1))
        return self.head(out[:, -1, :])
