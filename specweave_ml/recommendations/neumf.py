"""Neural collaborative filtering (NeuMF: He et al., 2017) in plain torch, behind the scorer contract.

A generalised matrix factorisation branch (user and item embeddings multiplied) and an MLP branch (their
concatenation through ``layers``) are joined by one output unit, trained with binary cross-entropy on the
positives and ``negatives`` sampled non-interacted items per positive, with Adam. Seeded (torch, numpy); one
thread; early stopping on the loss of a seeded 10% of the positives held aside (``patience`` epochs); a debug log
line per epoch, one summary line per fit. After fitting, the scores of every training user for every item are kept (users x items,
float32) so the packaged model answers without torch.
"""

from __future__ import annotations

import logging

import numpy as np

from specweave_ml.torchkit import EarlyStopping

log = logging.getLogger(__name__)


class NeuMF:
    def __init__(self, factors: int = 16, layers=(64, 32, 16), learning_rate: float = 0.001, regularization: float = 0.0,
                 epochs: int = 20, batch_size: int = 1024, negatives: int = 4, patience: int = 2, random_state: int = 0, **_):
        self.factors, self.layers, self.learning_rate = int(factors), tuple(int(x) for x in layers), float(learning_rate)
        self.regularization, self.epochs, self.batch_size = float(regularization), int(epochs), int(batch_size)
        self.negatives, self.patience, self.random_state = int(negatives), int(patience), int(random_state)

    def _network(self, n_users: int, n_items: int):
        import torch
        from torch import nn

        f, layers = self.factors, self.layers

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.gu, self.gi = nn.Embedding(n_users, f), nn.Embedding(n_items, f)
                self.mu, self.mi = nn.Embedding(n_users, layers[0] // 2), nn.Embedding(n_items, layers[0] // 2)
                mlp, width = [], layers[0]
                for out in layers[1:]:
                    mlp += [nn.Linear(width, out), nn.ReLU()]
                    width = out
                self.mlp = nn.Sequential(*mlp)
                self.out = nn.Linear(f + width, 1)
                for e in (self.gu, self.gi, self.mu, self.mi):
                    nn.init.normal_(e.weight, std=0.01)

            def forward(self, u, i):
                g = self.gu(u) * self.gi(i)
                m = self.mlp(torch.cat([self.mu(u), self.mi(i)], dim=1))
                return self.out(torch.cat([g, m], dim=1)).squeeze(1)

        return Net()

    def _samples(self, rows, cols, seen, n_items, rng):
        """The positives and ``negatives`` random items per positive that the user has not interacted with."""
        neg_u = np.repeat(rows, self.negatives)
        neg_i = rng.integers(0, n_items, len(neg_u))
        clash = np.asarray(seen[neg_u, neg_i]).ravel() > 0
        for _ in range(3):  # resample the few that hit a seen item
            if not clash.any():
                break
            neg_i[clash] = rng.integers(0, n_items, int(clash.sum()))
            clash = np.asarray(seen[neg_u, neg_i]).ravel() > 0
        keep = ~clash
        u = np.concatenate([rows, neg_u[keep]])
        i = np.concatenate([cols, neg_i[keep]])
        y = np.concatenate([np.ones(len(rows), np.float32), np.zeros(int(keep.sum()), np.float32)])
        return u, i, y

    def fit(self, X, recent=None):
        import torch

        torch.manual_seed(self.random_state)
        torch.set_num_threads(1)
        rng = np.random.default_rng(self.random_state)
        X = X.tocsr()
        n_users, n_items = X.shape
        rows, cols = X.nonzero()
        aside = rng.random(len(rows)) < 0.1
        net = self._network(n_users, n_items)
        opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate, weight_decay=self.regularization)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        vu, vi, vy = (torch.as_tensor(a) for a in self._samples(rows[aside], cols[aside], X, n_items, rng))
        stopper = EarlyStopping(self.patience, min_delta=1e-4)
        self.history_ = []
        for epoch in range(self.epochs):
            net.train()
            u, i, y = self._samples(rows[~aside], cols[~aside], X, n_items, rng)
            order = rng.permutation(len(u))
            u, i, y = torch.as_tensor(u[order]), torch.as_tensor(i[order]), torch.as_tensor(y[order])
            total = 0.0
            for start in range(0, len(u), self.batch_size):
                sl = slice(start, start + self.batch_size)
                opt.zero_grad()
                loss = loss_fn(net(u[sl], i[sl]), y[sl])
                loss.backward()
                opt.step()
                total += loss.item() * len(y[sl])
            net.eval()
            with torch.no_grad():
                val = float(loss_fn(net(vu, vi), vy))
            self.history_.append({"epoch": epoch + 1, "train_loss": total / len(u), "validation_loss": val})
            log.debug("NeuMF epoch %d/%d: train loss %.4f, validation loss %.4f", epoch + 1, self.epochs, total / len(u), val)
            if stopper.stop(val, net):
                break
        stopper.restore(net)
        log.info("NeuMF: %d epochs (best validation loss %.4f%s)", len(self.history_), stopper.best,
                 ", stopped early" if len(self.history_) < self.epochs else "")
        net.eval()
        with torch.no_grad():
            items = torch.arange(n_items)
            self.scores_ = np.vstack([net(torch.full((n_items,), u, dtype=torch.long), items).numpy()
                                      for u in range(n_users)]).astype(np.float32)
        self.epochs_run_ = len(self.history_)
        return self

    def scores(self, rows):
        return self.scores_[np.asarray(rows)]

    def describe(self) -> dict:
        return {"kind": "NeuMF", "factors": self.factors, "layers": "-".join(map(str, self.layers)),
                "learning_rate": self.learning_rate, "epochs_run": getattr(self, "epochs_run_", 0)}
