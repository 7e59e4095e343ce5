"""A/B tests: sticky assignment of a request key to a variant, and the sample size a test needs.

Assignment hashes ``salt:key`` (SHA-256) to a number in [0, 1): below the split, the challenger. The same
key meets the same variant on every request and every server, and a new salt reshuffles everyone.

Sample sizes use the normal approximation (``scipy.stats.norm``), two-sided at ``alpha``:

* two proportions: n = (z_a * sqrt(2 p (1 - p)) + z_b * sqrt(p1 (1 - p1) + p2 (1 - p2)))^2 / (p1 - p2)^2,
  p the mean of p1 and p2;
* two means: n = 2 sigma^2 (z_a + z_b)^2 / delta^2;

per variant at an even split. At split s the total grows by 1 / (4 s (1 - s)) (a 90/10 split needs
2.8 times the traffic of 50/50).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Optional

from specweave_ml.errors import DataError
from specweave_ml.units import duration

CHAMPION, CHALLENGER = "champion", "challenger"


def assign(key: Optional[str], split: float, salt: str) -> str:
    """The variant for a request key; requests without a key stay with the champion."""
    if not key:
        return CHAMPION
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return CHALLENGER if int.from_bytes(digest[:8], "big") / 2**64 < split else CHAMPION


def _z(alpha: float, power: float) -> tuple[float, float]:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))


def n_two_proportions(p1: float, p2: float, alpha: float, power: float) -> int:
    """Units per variant (even split) to tell proportion ``p1`` from ``p2``."""
    za, zb = _z(alpha, power)
    p = (p1 + p2) / 2
    top = za * math.sqrt(2 * p * (1 - p)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(top**2 / (p1 - p2) ** 2)


def n_two_means(sigma: float, delta: float, alpha: float, power: float) -> int:
    """Units per variant (even split) to detect a difference ``delta`` in means with spread ``sigma``."""
    za, zb = _z(alpha, power)
    return math.ceil(2 * sigma**2 * (za + zb) ** 2 / delta**2)


@dataclass
class Metric:
    name: str
    describe: str
    unit: str  # what one observation is: a request, a flagged request, an actual positive
    units_per_request: float  # share of requests that yield one unit
    baseline: float  # the champion's value on the holdout
    kind: str  # proportion | mean
    sigma: Optional[float] = None  # spread of one observation, for means
    lower_is_better: bool = False


@dataclass
class ABPlan:
    hypothesis: str
    metric: dict
    mde_relative: float
    detectable: list[float]  # challenger values the test can tell from the baseline
    alpha: float
    power: float
    split: float
    n_champion: int
    n_challenger: int
    units_per_second: float
    days: float
    feasible: bool
    max_days: float
    stopping_rules: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def plan(metric: Metric, mde: float, alpha: float, power: float, split: float, expected_rps: float,
         max_days: float, latency_budget_ms: float, psi_threshold: float) -> ABPlan:
    """The sample size and duration for ``metric`` at a relative effect ``mde``, and the stopping rules."""
    delta = mde * abs(metric.baseline)
    if delta == 0:
        raise DataError(f"metric {metric.name}", f"the champion's value is {metric.baseline:g}: a relative effect cannot be tested",
                        "evaluate a model whose holdout value is not 0")
    if metric.kind == "proportion":
        targets = [p for p in (metric.baseline - delta, metric.baseline + delta) if 0 < p < 1]
        if not targets:
            raise DataError("serving.ab.mde", f"{mde:g} of {metric.baseline:g} leaves no proportion between 0 and 1 to detect",
                            "use a smaller serving.ab.mde")
        n_even = max(n_two_proportions(metric.baseline, p, alpha, power) for p in targets)
    else:
        targets = [metric.baseline - delta, metric.baseline + delta]
        n_even = n_two_means(metric.sigma, delta, alpha, power)
    total = 2 * n_even / (4 * split * (1 - split))
    units_per_second = expected_rps * metric.units_per_request
    days = total / units_per_second / 86400
    better = "lower" if metric.lower_is_better else "higher"
    rules = [
        f"Fixed horizon: decide once, after {math.ceil(total * (1 - split)):,} champion and {math.ceil(total * split):,} "
        f"challenger {metric.unit}s; looking at significance earlier inflates false positives.",
        f"Ship the challenger if its {metric.name} is {better} than the champion's at p < {alpha} (two-sided); otherwise keep the champion.",
        "Stop early and send all traffic back to the champion if the challenger answers any 5xx, its p95 latency "
        f"exceeds {latency_budget_ms:g} ms on /metrics, or its score drift PSI exceeds {psi_threshold:g}.",
        f"Stop at {duration(max_days)} whatever the count: a longer test meets seasonal shifts the plan did not model.",
    ]
    return ABPlan(
        hypothesis=f"The challenger changes {metric.name} by at least {mde:.0%} of the champion's {metric.baseline:.4g}.",
        metric=asdict(metric), mde_relative=mde, detectable=[round(t, 6) for t in targets], alpha=alpha, power=power,
        split=split, n_champion=math.ceil(total * (1 - split)), n_challenger=math.ceil(total * split),
        units_per_second=units_per_second, days=days, feasible=days <= max_days, max_days=max_days, stopping_rules=rules,
    )


def offline_lines(offline: Optional[dict]) -> list[str]:
    """The "Offline evidence" section: the champion against the previous champion on the same holdout rows."""
    if not offline:
        return []
    lines = ["## Offline evidence", ""]
    if not offline.get("compared"):
        return lines + [f"- No paired comparison with the previous champion: {offline.get('why', 'not comparable')}.", ""]
    verdict = {"better": "larger than the noise, in the champion's favour",
               "worse": "larger than the noise, in the previous champion's favour",
               "within noise": "within the noise: the holdout cannot tell them apart, the online test has to"}[offline["verdict"]]
    return lines + [
        f"- On the {offline['rows']:,} holdout rows both models scored, {offline['metric']} is {offline['a']:.4f} for the "
        f"champion and {offline['b']:.4f} for the previous champion: difference {offline['difference']:+.4f}, "
        f"{offline['level']:.0%} paired-bootstrap interval [{offline['low']:+.4f}, {offline['high']:+.4f}] "
        f"({offline['resamples']} resamples of the same rows), {verdict}.",
        "- The online test measures what the holdout cannot (live traffic, the decision's effect); this only says "
        "which way the holdout leans and how firmly.",
        "",
    ]


def render(p: ABPlan, increment: str, challenger: Optional[str], key_header: str, offline: Optional[dict] = None) -> str:
    m = p.metric
    lines = [
        f"# A/B test plan: {increment}",
        "",
        "## Hypothesis",
        "",
        p.hypothesis,
        "",
        "## Metric",
        "",
        f"- {m['name']}: {m['describe']}; the champion's holdout value is {m['baseline']:.4g}"
        + (f" (spread {m['sigma']:.4g} per {m['unit']})" if m.get("sigma") is not None else "") + ".",
        f"- One observation per {m['unit']}; about {m['units_per_request']:.4g} per request.",
        "",
        "## Design",
        "",
        f"- Challenger: {challenger or 'set serving.ab.challenger (previous, or another increment)'}.",
        f"- Traffic split: {p.split:.0%} of keyed requests to the challenger, sticky on the `{key_header}` header.",
        f"- Minimum detectable effect: {p.mde_relative:.0%} relative (challenger at {' or '.join(f'{t:.4g}' for t in p.detectable)}).",
        f"- Significance {p.alpha}, power {p.power}: {p.n_champion:,} champion and {p.n_challenger:,} challenger {m['unit']}s.",
        f"- Duration at the expected traffic ({p.units_per_second:.4g} {m['unit']}s/s): **{duration(p.days)}**"
        + ("" if p.feasible else f", longer than the limit of {duration(p.max_days)}: raise the split, the MDE, or the traffic") + ".",
        "",
        *offline_lines(offline),
        "## Stopping rules",
        "",
        *[f"- {r}" for r in p.stopping_rules],
        "",
        "## Running it",
        "",
        f"- `python -m specweave_ml problem=<brief> stage=serve serving.ab.challenger={challenger or '<previous|increment>'} "
        f"serving.ab.split={p.split:g}`",
        "- Per-variant request counts, latencies and scores are on `/metrics` (label `variant`).",
    ]
    return "\n".join(lines) + "\n"
