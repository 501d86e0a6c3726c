"""Zero-shot labels of a stream's frames and windows from the user's prompts."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from neuroflow.eval.zeroshot import ZeroShotClassifier


def parse_labels(labels: str | Sequence[str] | None) -> list[str]:
    """Label names from a comma-separated string, a prompts file (one per line) or a list.

    In a prompts file, blank lines and lines starting with ``#`` are ignored.

    Raises:
        ValueError: No label survives, or a label repeats.
    """
    if labels is None:
        return []
    if isinstance(labels, str):
        path = Path(labels).expanduser()
        if path.is_file():
            lines = path.read_text().splitlines()
            names = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        else:
            names = [part.strip() for part in labels.split(",") if part.strip()]
    else:
        names = [str(part).strip() for part in labels if str(part).strip()]
    if not names:
        raise ValueError(f"no labels in {labels!r}: give 'a car,a person' or a prompts file")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"labels repeat: {repeated}")
    return names


def unknown_words(tokenizer: object, names: Sequence[str], templates: Sequence[str]) -> list[str]:
    """Words of the prompts that ``tokenizer`` maps to its unknown token (meaningless labels)."""
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return []
    words = {w for n in names for t in templates for w in re.findall(r"[\w']+", t.format(n))}
    return sorted(w for w in words if unk in tokenizer(w, add_special_tokens=False)["input_ids"])


class Labeller:
    """Top-1 label of frames and of windows of frames.

    Args:
        classifier: Class embeddings of the prompts.
        project: Tower output -> joint image-text space (``project_image`` of the model).
        window: Frames per window.
    """

    def __init__(
        self, classifier: ZeroShotClassifier, project: Callable[[Tensor], Tensor], window: int
    ) -> None:
        self.classifier, self.project, self.window = classifier, project, int(window)

    def frames(self, embeddings: Tensor) -> tuple[list[str], list[float]]:
        """Label and logit of every row of ``[T, D]`` tower embeddings."""
        logits = self.classifier.logits(self._joint(embeddings))
        best = logits.max(dim=-1)
        names = [self.classifier.class_names[i] for i in best.indices.tolist()]
        return names, best.values.tolist()

    def windows(self, embeddings: Tensor) -> list[dict]:
        """One row per window of ``window`` frames: the label of their mean embedding."""
        joint = F.normalize(self._joint(embeddings), dim=-1)
        rows = []
        for start in range(0, joint.shape[0], self.window):
            chunk = joint[start : start + self.window]
            logits = self.classifier.logits(chunk.mean(dim=0, keepdim=True))[0]
            best = int(logits.argmax())
            rows.append(
                {
                    "first_frame": start,
                    "last_frame": start + chunk.shape[0] - 1,
                    "label": self.classifier.class_names[best],
                    "logit": float(logits[best]),
                }
            )
        return rows

    @torch.no_grad()
    def _joint(self, embeddings: Tensor) -> Tensor:
        weights = self.classifier.weights
        return self.project(embeddings.to(weights.device)).float()
