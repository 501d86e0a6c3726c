"""The bypass ablation as a list of work items: the rows of the paper's Tables 20-22 + latency.

:class:`LMStudy` holds the model, the texts and the dense references (computed once, on first
use); :meth:`LMStudy.plan` lists one :class:`Work` per table row, so a runner can show
progress, keep finished rows on disk and resume an interrupted run.

Tables:

- ``similarity`` (T20): per-layer attention-output similarity of consecutive decode steps;
- ``perplexity`` (T21): teacher-forced perplexity per held-out text, dense and per bypass
  configuration, with bypass rate and gate-similarity median;
- ``drift`` (T22): greedy continuations of the same prompts, dense and bypass, each on its own
  history: share of differing positions, share of prompts generated identically, first
  divergence, and the next-token entropy where the bypass fired vs where it did not;
- ``latency``: milliseconds per decode step, dense and bypass, interleaved in one process.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy.stats import bootstrap
from torch import nn

from neuroflow.llm.bypass import Bypass, BypassConfig
from neuroflow.llm.metrics import (
    decode_latency,
    greedy_decode,
    perplexity,
    teacher_forced_nll,
    token_drift,
)
from neuroflow.llm.profile import attention_similarity, similarity_rows
from neuroflow.llm.texts import PAPER_PROMPTS, StudyTexts

TABLES = ("similarity", "perplexity", "drift", "latency")


@dataclass
class StudySettings:
    """What the ablation measures (the ``neuroflow-llm`` config keys of the same names).

    Attributes:
        tables: Which of ``similarity``, ``perplexity``, ``drift``, ``latency`` to make.
        pairs: ``{name: [gate_layer, cache_layer, ...]}`` bypass placements.
        thresholds: Gate thresholds θ (bypass when cos >= θ).
        kv_modes: ``advance`` (paper) and/or ``hole`` (published code).
        ppl_tokens: Tokens per perplexity text, scored in windows of the model's context
            (``max_position_embeddings``; one window for long-context models, as the paper).
        ppl_warmup: Unscored context tokens at the start of each window (one dense prefill).
        drift_steps: Generated tokens per drift prompt.
        latency_pairs: Pairs timed in the latency table.
        latency_thresholds: Thresholds timed in the latency table.
        latency_steps: Decode steps per timed run.
        latency_repeats: Timed runs per path (dense and bypass alternate).
    """

    tables: list[str] = field(default_factory=lambda: list(TABLES))
    pairs: dict[str, list[int]] = field(default_factory=lambda: {"bridge": [1, 6]})
    thresholds: list[float] = field(default_factory=lambda: [0.65])
    kv_modes: list[str] = field(default_factory=lambda: ["advance"])
    ppl_tokens: int = 512
    ppl_warmup: int = 64
    drift_steps: int = 100
    latency_pairs: list[str] = field(default_factory=lambda: ["bridge"])
    latency_thresholds: list[float] = field(default_factory=lambda: [0.65])
    latency_steps: int = 64
    latency_repeats: int = 5

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tables) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; choose from {list(TABLES)}")
        missing = sorted(set(self.latency_pairs) - set(self.pairs))
        if missing and "latency" in self.tables:
            raise ValueError(f"latency_pairs {missing} are not in pairs ({sorted(self.pairs)})")

    def configs(self, names: list[str] | None = None, thresholds=None) -> list[tuple[dict, Any]]:
        """``(row key columns, BypassConfig or the reason it cannot run)`` for every pair ×
        kv mode × threshold (``kv="hole"`` cannot bypass layer 0: that row says so)."""
        found = []
        for name in names or list(self.pairs):
            gate, *cache = self.pairs[name]
            for kv in self.kv_modes:
                for theta in thresholds or self.thresholds:
                    columns = {
                        "config": name,
                        "gate_layer": gate,
                        "cache_layers": " ".join(map(str, cache)),
                        "kv": kv,
                        "threshold": float(theta),
                    }
                    try:
                        found.append((columns, BypassConfig(gate, tuple(cache), float(theta), kv)))
                    except ValueError as err:
                        found.append((columns, str(err)))
        return found


@dataclass(frozen=True)
class Work:
    """One table row to compute: ``run()`` returns the row (``key`` included)."""

    table: str
    key: dict
    run: Callable[[], dict]


_DENSE = {"config": "dense", "gate_layer": None, "cache_layers": "", "kv": "", "threshold": None}


class LMStudy:
    """The ablation on one model: dense references cached, one :class:`Work` per row."""

    def __init__(self, model: nn.Module, texts: StudyTexts, settings: StudySettings) -> None:
        self.model, self.texts, self.settings = model, texts, settings
        self._dense_nlls: dict[str, torch.Tensor] = {}
        self._dense_generations: dict[str, list] = {}
        longest = max((len(p) for ps in texts.prompts.values() for p in ps), default=0)
        if "drift" in settings.tables and longest + settings.drift_steps > self._context():
            raise ValueError(
                f"drift prompts ({longest} tokens) + drift_steps ({settings.drift_steps}) exceed "
                f"the model's context of {self._context()} tokens; lower drift_steps or "
                "text.prompt_tokens"
            )

    def plan(self) -> list[Work]:
        """Every row of the requested tables, dense rows first."""
        s, work = self.settings, []
        if "similarity" in s.tables:
            work.append(Work("similarity", {"table": "similarity"}, self._similarity))
        for table, domains, dense, sparse in (
            ("perplexity", self.texts.ppl_domains, self._ppl_dense, self._ppl_bypass),
            ("drift", self.texts.prompt_domains, self._drift_dense, self._drift_bypass),
        ):
            if table not in s.tables:
                continue
            for domain in domains:
                work.append(Work(table, {"domain": domain, **_DENSE}, partial(dense, domain)))
                for columns, config in s.configs():
                    key = {"domain": domain, **columns}
                    work.append(Work(table, key, _bind(sparse, domain, config)))
        if "latency" in s.tables:
            for key, config in s.configs(s.latency_pairs, s.latency_thresholds):
                work.append(Work("latency", key, _bind(self._latency, config)))
        return work

    # -- similarity ------------------------------------------------------------------------
    def _similarity(self) -> list[dict]:
        prompts = [p for d in self.texts.prompt_domains for p in self.texts.prompts[d]]
        return similarity_rows(attention_similarity(self.model, prompts, self.settings.drift_steps))

    # -- perplexity ------------------------------------------------------------------------
    def _nll(self, domain: str, config: BypassConfig | None):
        """NLL of the text in windows of the model's context (each window: a fresh sequence
        whose first ``ppl_warmup`` tokens are context only); the bypass's rate and gate
        median over every window's decode steps."""
        ids = self.texts.ppl_ids(domain, self.settings.ppl_tokens)
        nll, applied, sims = [], [], []
        with _installed(self.model, config) as bypass:
            for window in ids.split(self._context()):
                if len(window) <= self.settings.ppl_warmup:
                    continue  # a tail too short to score
                nll.append(teacher_forced_nll(self.model, window, self.settings.ppl_warmup))
                if bypass is not None:
                    applied += bypass.state.applied
                    sims += bypass.state.similarities
        stats = {}
        if config is not None:
            sims = torch.cat(sims) if sims else torch.zeros(0)
            stats = {
                "bypass_rate": float(torch.cat(applied).float().mean()) if applied else 0.0,
                "gate_p50": float(sims.median()) if sims.numel() else None,
            }
        return torch.cat(nll), stats

    def _context(self) -> int:
        """Longest sequence the model was trained for (the perplexity window)."""
        return int(getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30)

    def _dense_nll(self, domain: str) -> torch.Tensor:
        if domain not in self._dense_nlls:
            self._dense_nlls[domain] = self._nll(domain, None)[0]
        return self._dense_nlls[domain]

    def _ppl_dense(self, domain: str) -> dict:
        nll = self._dense_nll(domain)
        return {"ppl": perplexity(nll), "tokens": int(nll.numel())}

    def _ppl_bypass(self, domain: str, config: BypassConfig) -> dict:
        nll, stats = self._nll(domain, config)
        dense = self._dense_nll(domain)
        low, high = _ratio_interval(nll - dense)
        ppl = perplexity(nll)
        return {
            "ppl": ppl,
            "delta_ppl": ppl - perplexity(dense),
            "delta_ppl_pct": 100 * (ppl / perplexity(dense) - 1),
            "delta_ppl_pct_low": 100 * (low - 1),
            "delta_ppl_pct_high": 100 * (high - 1),
            "tokens": int(nll.numel()),
            **stats,
        }

    # -- drift -----------------------------------------------------------------------------
    def _dense_runs(self, domain: str) -> list:
        if domain not in self._dense_generations:
            steps = self.settings.drift_steps
            runs = [greedy_decode(self.model, p, steps) for p in self.texts.prompts[domain]]
            self._dense_generations[domain] = runs
        return self._dense_generations[domain]

    def _drift_dense(self, domain: str) -> dict:
        runs = self._dense_runs(domain)
        entropy = torch.cat([r.entropy for r in runs])
        return {
            "prompts": len(runs),
            "steps": self.settings.drift_steps,
            "drift": 0.0,
            "identical_share": 1.0,
            "entropy": float(entropy.mean()),
        }

    def _drift_bypass(self, domain: str, config: BypassConfig) -> dict:
        drifts, fired, fresh, rates = [], [], [], []
        for prompt, dense in zip(self.texts.prompts[domain], self._dense_runs(domain), strict=True):
            with _installed(self.model, config) as bypass:
                run = greedy_decode(self.model, prompt, self.settings.drift_steps)
                applied = torch.stack(bypass.state.applied)[:, 0] if bypass.state.applied else None
                rates.append(bypass.stats()["bypass_rate"])
            drifts.append(token_drift(dense.tokens, run.tokens))
            if applied is not None:  # decode step j chose token j + 1
                fired.append(run.entropy[1:][applied])
                fresh.append(run.entropy[1:][~applied])
        firsts = [d["first_divergence"] for d in drifts if d["first_divergence"] is not None]
        return {
            "prompts": len(drifts),
            "steps": self.settings.drift_steps,
            "bypass_rate": statistics.fmean(rates),
            "drift": statistics.fmean(d["drift"] for d in drifts),
            "identical_share": statistics.fmean(d["first_divergence"] is None for d in drifts),
            "first_divergence_median": statistics.median(firsts) if firsts else None,
            "entropy_bypassed": _mean(fired),
            "entropy_fresh": _mean(fresh),
        }

    # -- latency ---------------------------------------------------------------------------
    def _latency(self, config: BypassConfig) -> dict:
        s, prompt = self.settings, self.texts.latency_prompt
        dense, bypassed, rate = [], [], 0.0
        decode_latency(self.model, prompt, s.latency_steps)  # warm-up
        for _ in range(s.latency_repeats):
            dense.append(decode_latency(self.model, prompt, s.latency_steps))
            with _installed(self.model, config) as bypass:
                bypassed.append(decode_latency(self.model, prompt, s.latency_steps))
                rate = bypass.stats()["bypass_rate"]
        dense_ms, bypass_ms = statistics.median(dense), statistics.median(bypassed)
        return {
            "dense_ms": dense_ms,
            "bypass_ms": bypass_ms,
            "speedup": dense_ms / bypass_ms,
            "bypass_rate": rate,
            "steps": s.latency_steps,
            "repeats": s.latency_repeats,
        }


def _ratio_interval(delta: torch.Tensor, block: int = 32) -> tuple[float, float]:
    """95 % interval of ``PPL_bypass / PPL_dense`` from the per-token NLL differences.

    Neighbouring tokens are correlated, so whole blocks of ``block`` tokens are resampled
    (a block bootstrap over the block means; scipy, percentile method).
    """
    usable = len(delta) // block * block
    if usable < 2 * block:
        return float("nan"), float("nan")
    means = delta[:usable].double().view(-1, block).mean(1).numpy()
    if np.ptp(means) == 0:  # no spread (e.g. a bypass that never fired): the ratio is exact
        ratio = float(np.exp(means[0]))
        return ratio, ratio
    found = bootstrap(
        (means,),
        np.mean,
        confidence_level=0.95,
        method="percentile",
        n_resamples=2000,
        random_state=0,
    )
    interval = found.confidence_interval
    return float(np.exp(interval.low)), float(np.exp(interval.high))


def _mean(parts: list[torch.Tensor]) -> float | None:
    values = torch.cat(parts) if parts else torch.zeros(0)
    return float(values.mean()) if values.numel() else None


def _bind(fn: Callable, *args) -> Callable[[], dict]:
    """``fn(*args)`` later; a configuration that cannot run (its reason, a string, stands in
    for the config as the last argument) gives a row that says why."""
    if isinstance(args[-1], str):
        return lambda: {"status": "not run", "reason": args[-1]}
    return partial(fn, *args)


def _installed(model: nn.Module, config: BypassConfig | None):
    """``with _installed(model, config) as bypass``: a bypass for the block (None: dense)."""
    return Bypass(model, config) if config is not None else nullcontext()


__all__ = ["LMStudy", "PAPER_PROMPTS", "StudySettings", "TABLES", "Work"]
