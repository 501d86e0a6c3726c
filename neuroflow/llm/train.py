"""The whole mini-LM recipe in one call: corpus, tokenizer, training, save, reload, measure.

:func:`run_recipe` collects the three-domain corpus, trains the byte-level BPE on the
training split, trains a small ``Phi3ForCausalLM`` from scratch, saves model and tokenizer
with ``save_pretrained``, writes held-out samples, ``LICENSES.md`` and the metadata, then
reloads the directory with the ``Auto*`` classes and measures held-out perplexity per
domain on the reloaded weights (the shipped-asset test recomputes it the same way).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tokenizers
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from neuroflow.llm.corpus import DOMAINS, Corpus, CorpusCaps, build_corpus
from neuroflow.llm.lm_export import write_heldout, write_licences, write_meta
from neuroflow.llm.lm_loop import LMSize, Optim, build_model, greedy, train_lm, windowed_perplexity
from neuroflow.llm.tokenizer import build_tokenizer

PROMPTS = {
    "code": "def merge_sort(arr):\n    if len(arr) <= 1:\n        return arr\n",
    "structured": '{\n  "name": "example",\n  "version": "1.0.0",\n  "dependencies": {\n',
    "prose": "The for statement is used to",
}


@dataclass(frozen=True)
class LMRecipe:
    """Everything that defines a mini-LM training run.

    Attributes:
        seed: Seed of the initialisation and of the sampled training windows.
        size: Model sizes (Phi-3 layout).
        optim: Optimisation schedule.
        caps: Corpus size limits per domain.
        vocab_size: BPE vocabulary size.
        threads: Torch intra-op threads.
        heldout_chars: Characters of each shipped ``heldout/<domain>.txt`` sample.
        check_tokens: Leading held-out tokens per domain whose perplexity is also
            recorded (the fast shipped-model test recomputes it).
        sample_tokens: Greedy tokens generated per prompt for the metadata.
    """

    seed: int = 0
    size: LMSize = field(default_factory=LMSize)
    optim: Optim = field(default_factory=Optim)
    caps: CorpusCaps = field(default_factory=CorpusCaps)
    vocab_size: int = 4096
    threads: int = 2
    heldout_chars: int = 48_000
    check_tokens: int = 1024
    sample_tokens: int = 96


def tiny_recipe(seed: int = 0) -> LMRecipe:
    """A seconds-long recipe at toy sizes (tests, ``--quick``): proves the pipeline runs."""
    return LMRecipe(
        seed=seed,
        size=LMSize(layers=2, hidden=32, heads=2, intermediate=64, context=32),
        optim=Optim(steps=40, batch=6, lr=1e-2, warmup=4, log_every=10),
        caps=CorpusCaps(train_chars=12_000, heldout_chars=3_000, doc_chars=4_000),
        vocab_size=384,
        threads=1,
        heldout_chars=3_000,
        check_tokens=128,
        sample_tokens=8,
    )


def token_stream(tok: PreTrainedTokenizerBase, texts: list[str]) -> torch.Tensor:
    """All ``texts`` tokenized and joined into one 1-D stream, each followed by EOS."""
    ids: list[int] = []
    for encoded in tok(texts, add_special_tokens=False)["input_ids"]:
        ids += encoded + [tok.eos_token_id]
    return torch.tensor(ids, dtype=torch.long)


def heldout_perplexities(
    model_dir: str | Path, texts: dict[str, str], max_tokens: int | None = None
) -> dict[str, float]:
    """Perplexity of the model saved in ``model_dir`` on each domain's held-out text.

    Args:
        model_dir: A directory written by :func:`run_recipe`.
        texts: Domain → text (e.g. ``lm_export.read_heldout(model_dir)``).
        max_tokens: Only the first this many tokens of each text (all when None).
    """
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    context = model.config.max_position_embeddings
    out = {}
    for domain, text in texts.items():
        ids = torch.tensor(tok(text, add_special_tokens=False)["input_ids"][:max_tokens])
        out[domain] = windowed_perplexity(model, ids, context)
    return out


def _corpus_stats(corpus: Corpus, streams: dict[str, torch.Tensor], held: dict) -> dict:
    stats = corpus.stats()
    for domain in DOMAINS:
        stats[domain]["train_tokens"] = len(streams[domain])
        stats[domain]["heldout_sample_chars"] = len(held[domain])
    return stats


def run_recipe(
    recipe: LMRecipe,
    out_dir: str | Path,
    log: Callable[[dict], None] = print,
    command: str | None = None,
) -> dict:
    """Build, train, save and measure the mini LM described by ``recipe``.

    Args:
        recipe: The run's settings.
        out_dir: Directory to write (created; existing files are overwritten).
        log: Receives progress records (dicts).
        command: The command line that started the run, for the metadata.

    Returns:
        The metadata also written to ``out_dir/neuroflow_meta.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.seed)
    times = {}
    t0 = time.perf_counter()
    corpus = build_corpus(recipe.caps)
    times["corpus"] = time.perf_counter() - t0
    log({"stage": "corpus", **{d: s["train_chars"] for d, s in corpus.stats().items()}})

    t = time.perf_counter()
    tok = build_tokenizer([d.text for d in corpus.select()], recipe.vocab_size, recipe.size.context)
    streams = {d: token_stream(tok, [x.text for x in corpus.select(d)]) for d in DOMAINS}
    times["tokenizer"] = time.perf_counter() - t
    log({"stage": "tokens", **{d: len(s) for d, s in streams.items()}})

    model = build_model(recipe.size, len(tok), tok.eos_token_id)
    untrained = {
        d: windowed_perplexity(model, s[:4096], recipe.size.context) for d, s in streams.items()
    }
    params = sum(p.numel() for p in model.parameters())
    log({"stage": "model", "params": params})
    t = time.perf_counter()
    curve = train_lm(model, [streams[d] for d in DOMAINS], recipe.optim, recipe.seed, log)
    times["train"] = time.perf_counter() - t

    t = time.perf_counter()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    held = write_heldout(corpus, out, recipe.heldout_chars)
    write_licences(corpus, out)
    ppl = heldout_perplexities(out, held)
    check = heldout_perplexities(out, held, recipe.check_tokens)
    samples = {d: greedy(model, tok, p, recipe.sample_tokens) for d, p in PROMPTS.items()}
    times["eval"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    meta = {
        "recipe": asdict(recipe),
        "command": command,
        "params": params,
        "attn_implementation": recipe.size.attn_implementation,
        "corpus": _corpus_stats(corpus, streams, held),
        "licences": corpus.licences(),
        "rejected_distributions": corpus.rejected,
        "heldout_ppl": ppl,
        "heldout_ppl_check": check,
        "untrained_ppl_train_slice": untrained,
        "curve": curve,
        "samples": {d: {"prompt": PROMPTS[d], "greedy": s} for d, s in samples.items()},
        "timings_s": times,
        "train_tokens_per_s": recipe.optim.steps
        * recipe.optim.batch
        * recipe.size.context
        / times["train"],
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
    }
    write_meta(meta, out)
    log({"stage": "done", **{f"ppl_{d}": v for d, v in ppl.items()}})
    return meta
