"""REINFORCE controller (NAS-RL, Zoph & Le 2017), also the policy ENAS trains.

An LSTM emits one decision per space variable, in space order: a softmax over the
choices of a categorical, or over the cells of a grid for an integer or float variable
(``grid`` cells mapped through the variable's ``from_unit`` at the cell centres; an
integer with at most ``grid`` values gets one cell per value). The decision taken is
fed back, through an embedding, as the next step's input.

Each ``tell`` is one policy-gradient update on the told batch (``m`` samples = the
asked batch): reward = score (NaN counts as the lowest reward seen), optionally minus
``cost_weight * log(cost / cost_limit)``; advantage = reward - an exponential moving
average baseline (divided by a running standard deviation when ``normalize``); loss =
-mean(advantage * log p(decisions)) - ``entropy_weight`` * mean(entropy); one Adam step.
The decisions of a told config are read back from its values, so configs that did not
come from the controller (random fill-ins, projected pool rows) are learned from too.

Hard constraints go through the :class:`CandidateSet`: samples that are infeasible or
already proposed are drawn again (``rounds`` times). What is still missing (a policy
that has converged repeats itself) comes from near the policy's samples: on a finite
pool the nearest pool rows not yet proposed (exact search on the encoding, where a
different categorical choice counts 1; ties broken at random), on an open space
feasible new configs one variable away.

Example:
    >>> space = SearchSpace(arch=[Categorical("op", ("a", "b")), Integer("width", 1, 4)])
    >>> strategy = create_strategy("reinforce", CandidateSet(space), seed=0)  # doctest: +SKIP
    >>> configs = strategy.ask(4)  # doctest: +SKIP
    >>> strategy.tell(configs, [0.1, 0.5, 0.2, 0.9])  # doctest: +SKIP
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...data.space import Config, SearchSpace
from ...data.variables import Categorical, Integer
from ...errors import ConfigError, SpaceError
from ..candidates import CandidateSet, row_keys
from .base import Strategy
from .registry import register


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def decision_sizes(space: SearchSpace, grid: int) -> list[int]:
    """Softmax width per variable: its choices, its values (<= ``grid``) or ``grid`` cells."""
    sizes = []
    for v in space.variables:
        if isinstance(v, Categorical):
            sizes.append(v.levels)
        elif isinstance(v, Integer):
            sizes.append(min(v.levels, grid))
        else:
            sizes.append(grid if v.high > v.low else 1)
    return sizes


def to_actions(space: SearchSpace, sizes: Sequence[int], configs: Any) -> np.ndarray:
    """Decision index per config and variable (``(n, len(sizes))`` int64)."""
    unit = space.to_unit(configs)
    k = np.asarray(sizes, dtype=np.float64)
    return np.clip(np.floor(unit * k), 0, k - 1).astype(np.int64)


def from_actions(space: SearchSpace, sizes: Sequence[int], actions: np.ndarray) -> pd.DataFrame:
    """Configs (a frame) of decision indices: each cell's centre through ``from_unit``."""
    unit = (np.asarray(actions, dtype=np.float64) + 0.5) / np.asarray(sizes, dtype=np.float64)
    return space.from_unit(unit, frame=True)


class Controller(nn.Module):
    """LSTM policy over a fixed sequence of categorical decisions.

    Args:
        sizes: number of options of each decision, in order.
        hidden: LSTM and embedding width.
        generator: torch generator for the initial weights (uniform in ``±init_range``).
        init_range: half-width of the initial weight distribution.
        tanh_constant: logits become ``tanh_constant * tanh(logits / temperature)``
            (ENAS), which bounds how deterministic a decision can get; ``None``: raw logits.
        temperature: divides the logits.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        hidden: int,
        generator: torch.Generator,
        init_range: float = 0.1,
        tanh_constant: float | None = 2.5,
        temperature: float = 1.0,
    ) -> None:
        with torch.random.fork_rng(devices=[]):  # module defaults must not touch the global RNG
            super().__init__()
            self.sizes = [int(k) for k in sizes]
            self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
            self.hidden, self.tanh_constant, self.temperature = hidden, tanh_constant, temperature
            self.embed = nn.Embedding(1 + sum(self.sizes), hidden)  # row 0: the start token
            self.lstm = nn.LSTMCell(hidden, hidden)
            self.heads = nn.ModuleList(nn.Linear(hidden, k) for k in self.sizes)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-init_range, init_range, generator=generator)

    def forward(
        self, batch: int, actions: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample ``batch`` decision sequences (or score the given ``actions``).

        Returns:
            actions ``(batch, T)``, summed log-probabilities ``(batch,)`` and summed
            entropies ``(batch,)``.
        """
        h = torch.zeros(batch, self.hidden)
        c = torch.zeros(batch, self.hidden)
        x = self.embed(torch.zeros(batch, dtype=torch.long))
        taken, logp, entropy = [], torch.zeros(batch), torch.zeros(batch)
        for t, head in enumerate(self.heads):
            h, c = self.lstm(x, (h, c))
            logits = head(h) / self.temperature
            if self.tanh_constant is not None:
                logits = self.tanh_constant * torch.tanh(logits)
            log_probs = torch.log_softmax(logits, dim=-1)
            if actions is None:
                a = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
            else:
                a = actions[:, t]
            logp = logp + log_probs.gather(1, a[:, None]).squeeze(1)
            entropy = entropy - (log_probs.exp() * log_probs).sum(dim=1)
            taken.append(a)
            x = self.embed(a + 1 + int(self.offsets[t]))
        return torch.stack(taken, dim=1), logp, entropy


@register
class Reinforce(Strategy):
    """Policy-gradient search with an LSTM controller (see the module docstring).

    Args:
        candidates: what may be proposed.
        seed: seed of the strategy's generators (numpy for fill-ins, torch for the policy).
        hidden: controller width, 1 to 4096.
        lr: Adam learning rate, in (0, 1].
        entropy_weight: entropy bonus, >= 0.
        baseline_decay: EMA factor of the reward baseline, in [0, 1).
        grid: cells per integer / float variable, >= 2.
        normalize: divide advantages by a running standard deviation of the rewards.
        cost_weight: FLOPs-style penalty weight, >= 0 (0: accuracy only).
        cost: name of the penalized cost (a pool column or one of the cost function's).
        cost_limit: reference value of the cost (default: the candidates' limit on it).
        rounds: controller draws per ask to replace infeasible or repeated samples.
        init_range: half-width of the uniform initial weights.
        tanh_constant: bound on the logits, ``tanh_constant * tanh(logits / temperature)``
            (ENAS; keeps every decision exploring); ``None`` for raw logits.
        temperature: divides the logits.

    Raises:
        ConfigError: a hyperparameter out of range, a space with no variables, or a
            cost penalty without a reference value.
    """

    name = "reinforce"

    def __init__(
        self,
        candidates: CandidateSet,
        *,
        seed: int | None = None,
        hidden: int = 32,
        lr: float = 0.05,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.8,
        grid: int = 8,
        normalize: bool = True,
        cost_weight: float = 0.0,
        cost: str = "flops",
        cost_limit: float | None = None,
        rounds: int = 4,
        init_range: float = 0.1,
        tanh_constant: float | None = 2.5,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(candidates, seed=seed)
        if not self.space.variables:
            raise ConfigError("the reinforce controller needs a space with at least one variable")
        num = _is_number
        checks = (
            ("hidden", hidden, _is_int(hidden) and 1 <= hidden <= 4096, "an integer in 1..4096"),
            ("lr", lr, num(lr) and 0 < lr <= 1, "in (0, 1]"),
            ("entropy_weight", entropy_weight, num(entropy_weight) and entropy_weight >= 0, ">= 0"),
            ("baseline_decay", baseline_decay, num(baseline_decay) and 0 <= baseline_decay < 1, "in [0, 1)"),
            ("grid", grid, _is_int(grid) and grid >= 2, "an integer >= 2"),
            ("cost_weight", cost_weight, num(cost_weight) and cost_weight >= 0, ">= 0"),
            ("rounds", rounds, _is_int(rounds) and rounds >= 1, "an integer >= 1"),
            ("init_range", init_range, num(init_range) and init_range > 0, "> 0"),
            (
                "tanh_constant",
                tanh_constant,
                tanh_constant is None or (num(tanh_constant) and tanh_constant > 0),
                "> 0 or None",
            ),
            ("temperature", temperature, num(temperature) and temperature > 0, "> 0"),
        )
        for key, value, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"reinforce: {key}={value!r} out of range (allowed: {allowed})")
        if cost_limit is None:
            cost_limit = self.candidates.limits.get(cost)
        if cost_weight > 0 and not (cost_limit and cost_limit > 0):
            raise ConfigError(
                f"reinforce: cost_weight={cost_weight:g} needs a positive cost_limit for "
                f"'{cost}' (none given and the candidates have no limit on it)"
            )
        self.hidden, self.lr, self.entropy_weight = hidden, float(lr), float(entropy_weight)
        self.baseline_decay, self.grid, self.normalize = float(baseline_decay), grid, bool(normalize)
        self.cost_weight, self.cost, self.cost_limit = float(cost_weight), cost, cost_limit
        self.rounds, self.init_range = rounds, float(init_range)
        self.tanh_constant, self.temperature = tanh_constant, float(temperature)
        self.sizes = decision_sizes(self.space, grid)
        self.generator = torch.Generator()
        self.generator.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        self.controller = Controller(
            self.sizes, hidden, self.generator, init_range, tanh_constant, self.temperature
        )
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=self.lr)
        self.baseline: float | None = None
        self.variance: float | None = None
        self.worst: float | None = None
        self.updates = 0
        self._pool_points: np.ndarray | None = None

    # -- the policy ----------------------------------------------------------------------
    def sample(self, n: int) -> pd.DataFrame:
        """``n`` raw policy samples (repeats possible, feasibility not checked)."""
        with torch.no_grad():
            actions, _, _ = self.controller(n, generator=self.generator)
        return from_actions(self.space, self.sizes, actions.numpy())

    def log_prob(self, configs: Any) -> np.ndarray:
        """Log-probability that the policy emits each config's decisions."""
        actions = torch.as_tensor(to_actions(self.space, self.sizes, configs))
        with torch.no_grad():
            _, logp, _ = self.controller(len(actions), actions=actions)
        return logp.numpy().astype(np.float64)

    def learn(self, configs: Any, rewards: Sequence[float]) -> dict[str, float]:
        """One REINFORCE step on configs and their rewards; returns loss and baseline.

        Non-finite rewards count as the lowest finite reward seen so far (0 before any).
        """
        r = np.asarray(rewards, dtype=np.float64)
        finite = r[np.isfinite(r)]
        if finite.size:
            self.worst = float(min(finite.min(), self.worst if self.worst is not None else np.inf))
        r = np.where(np.isfinite(r), r, self.worst if self.worst is not None else 0.0)
        if not len(r):
            return {"loss": 0.0, "baseline": self.baseline or 0.0}
        if self.baseline is None:
            self.baseline = float(r.mean())
            self.variance = float(r.var())
        adv = r - self.baseline
        if self.normalize:
            adv = adv / (math.sqrt(self.variance) + 1e-8) if self.variance > 1e-16 else adv * 0.0
        actions = torch.as_tensor(to_actions(self.space, self.sizes, configs))
        _, logp, entropy = self.controller(len(actions), actions=actions)
        advantage = torch.as_tensor(adv, dtype=torch.float32)
        loss = -(advantage * logp).mean() - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        d = self.baseline_decay
        self.variance = d * self.variance + (1 - d) * float(((r - self.baseline) ** 2).mean())
        self.baseline = d * self.baseline + (1 - d) * float(r.mean())
        self.updates += 1
        return {"loss": float(loss.detach()), "baseline": self.baseline}

    def rewards(self, configs: list[Config], scores: np.ndarray) -> np.ndarray:
        """Scores minus the optional ``cost_weight * log(cost / cost_limit)`` penalty."""
        if self.cost_weight == 0 or not configs:
            return scores
        frame = self.space.frame(configs)
        pool = self.candidates.pool
        rows = self.candidates.positions(frame)
        if pool is not None and self.cost in pool.columns and (rows >= 0).all():
            cost = pool[self.cost].to_numpy(dtype=np.float64)[rows]
        else:
            costs = self.candidates.cost_fn(self.space, frame)
            if self.cost not in costs.columns:
                raise ConfigError(
                    f"reinforce: cost '{self.cost}' is not available "
                    f"(costs: {', '.join(costs.columns) or 'none'})"
                )
            cost = costs[self.cost].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return scores - self.cost_weight * np.log(cost / self.cost_limit)

    # -- strategy hooks ------------------------------------------------------------------
    def propose(self, n: int) -> pd.DataFrame:
        chunks, rejected, taken, have = [], [], set(self.proposed), 0
        for _ in range(self.rounds):
            if have >= n:
                break
            draw = self.sample(2 * (n - have))
            keys = row_keys(self.space, draw)
            keep = self.candidates.feasible(draw) & ~pd.Series(keys).duplicated().to_numpy()
            keep &= np.array([int(k) not in taken for k in keys], dtype=bool)
            take = np.flatnonzero(keep)[: n - have]
            taken |= {int(k) for k in keys[take]}
            chunks.append(draw.iloc[take])
            rejected.append(draw[~keep])
            have += len(take)
        if have < n:
            queries = pd.concat(rejected, ignore_index=True)
            if self.candidates.pool is not None:
                chunks.append(self.nearest_free(queries.iloc[: n - have], taken))
            elif len(queries):
                chunks.append(self.neighbours(queries, n - have, taken))
        return pd.concat(chunks, ignore_index=True)

    def observe(self, configs: list[Config], scores: np.ndarray) -> None:
        if configs:
            self.learn(configs, self.rewards(configs, scores))

    def neighbours(self, queries: pd.DataFrame, n: int, taken: set[int]) -> pd.DataFrame:
        """Up to ``n`` feasible configs not in ``taken``, one variable away from the queries."""
        chunks, have = [], 0
        for _ in range(self.rounds):
            try:
                draw = self.space.mutate_frame(queries, self.rng, k=1)
            except SpaceError:  # no variable can change
                break
            keys = row_keys(self.space, draw)
            keep = self.candidates.feasible(draw) & ~pd.Series(keys).duplicated().to_numpy()
            keep &= np.array([int(k) not in taken for k in keys], dtype=bool)
            take = np.flatnonzero(keep)[: n - have]
            taken |= {int(k) for k in keys[take]}
            chunks.append(draw.iloc[take])
            have += len(take)
            if have >= n:
                break
        return pd.concat(chunks, ignore_index=True) if chunks else queries.iloc[:0]

    def nearest_free(self, queries: pd.DataFrame, taken: set[int]) -> pd.DataFrame:
        """Nearest pool row not in ``taken`` for each query (each row used once)."""
        pool = self.candidates.pool[list(self.space.names)].reset_index(drop=True)
        if self._pool_points is None:
            self._weights = np.concatenate(
                [
                    np.full(v.width, math.sqrt(0.5) if isinstance(v, Categorical) else 1.0, np.float32)
                    for v in self.space.variables
                ]
            )
            self._pool_points = self.space.encode(pool) * self._weights
            self._pool_keys = row_keys(self.space, pool)
        used = np.array([int(k) in taken for k in self._pool_keys], dtype=bool)
        rows = []
        for q in self.space.encode(queries) * self._weights if len(queries) else []:
            if used.all():
                break
            dist = ((self._pool_points - q) ** 2).sum(axis=1)
            dist[used] = np.inf
            ties = np.flatnonzero(dist <= dist.min() + 1e-6)
            pick = int(ties[self.rng.integers(len(ties))])
            rows.append(pick)
            used[pick] = True
        return pool.iloc[rows]

    def extra_state(self) -> dict[str, Any]:
        opt = self.optimizer.state_dict()["state"]
        return {
            "controller": {k: v.tolist() for k, v in self.controller.state_dict().items()},
            "optimizer": {
                str(i): {k: (v.tolist() if torch.is_tensor(v) else v) for k, v in s.items()}
                for i, s in opt.items()
            },
            "generator": self.generator.get_state().tolist(),
            "baseline": self.baseline,
            "variance": self.variance,
            "worst": self.worst,
            "updates": self.updates,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.controller.load_state_dict(
            {k: torch.tensor(v, dtype=torch.float32) for k, v in state["controller"].items()}
        )
        opt = self.optimizer.state_dict()
        opt["state"] = {
            int(i): {k: torch.tensor(v, dtype=torch.float32) for k, v in s.items()}
            for i, s in state["optimizer"].items()
        }
        self.optimizer.load_state_dict(opt)
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.baseline, self.variance, self.worst = state["baseline"], state["variance"], state["worst"]
        self.updates = int(state["updates"])
