"""LightningDataModule over any neuroflow clip dataset (the only Lightning import in data/).

The evaluator (``neuroflow-eval``) serves its test set through :class:`ClipDataModule`;
training runs add train/val sets to the same module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from neuroflow.data.dataset import collate_clips
from neuroflow.data.factory import build_clip_dataset

DatasetSpec = Dataset | Callable[[], Dataset] | Mapping[str, Any] | None
STAGES = ("train", "val", "test", "predict")
_NEEDED = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("predict",),
    None: STAGES,
}


def _build(spec: DatasetSpec) -> Dataset | None:
    """A dataset from a dataset, a zero-argument factory, or ``build_clip_dataset`` kwargs."""
    if spec is None or isinstance(spec, Dataset):
        return spec
    if isinstance(spec, Mapping):
        return build_clip_dataset(**spec)
    if callable(spec):
        return spec()
    raise TypeError(f"cannot build a dataset from {type(spec).__name__}")


class ClipDataModule(LightningDataModule):
    """Serve clip datasets to a Lightning ``Trainer`` for evaluation and training.

    Each stage takes a ``Dataset``, a zero-argument callable returning one (built lazily in
    :meth:`setup`), or a dict of :func:`~neuroflow.data.factory.build_clip_dataset` arguments
    (what a config file holds). Batches come from :func:`~neuroflow.data.dataset.collate_clips`:
    clips that failed to load are in ``batch["skipped"]``, and this module also gathers them in
    :attr:`skipped` as batches reach the model, so no bad clip goes unrecorded even with
    worker processes.

    Args:
        train: Training dataset spec.
        val: Validation dataset spec.
        test: Test dataset spec.
        predict: Prediction dataset spec.
        batch_size: Clips per batch.
        num_workers: DataLoader worker processes.
        pin_memory: Pin host memory (for GPU training).
        shuffle_train: Shuffle the training set (seeded by ``seed``).
        seed: Seed of the training shuffle.
    """

    def __init__(
        self,
        train: DatasetSpec = None,
        val: DatasetSpec = None,
        test: DatasetSpec = None,
        predict: DatasetSpec = None,
        batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        shuffle_train: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.specs = {"train": train, "val": val, "test": test, "predict": predict}
        self.datasets: dict[str, Dataset | None] = dict.fromkeys(STAGES)
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.shuffle_train, self.seed = shuffle_train, seed
        self._batch_skips: list[dict] = []

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets the given Trainer stage needs (once)."""
        for name in _NEEDED.get(stage, STAGES):
            if self.datasets[name] is None:
                self.datasets[name] = _build(self.specs[name])

    def _loader(self, name: str, shuffle: bool = False) -> DataLoader:
        if self.datasets[name] is None:  # a loader asked for outside Trainer.setup
            self.datasets[name] = _build(self.specs[name])
        dataset = self.datasets[name]
        if dataset is None:
            raise ValueError(f"ClipDataModule has no {name} dataset")
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            collate_fn=collate_clips,
            generator=generator,
            persistent_workers=False,
        )

    def train_dataloader(self) -> DataLoader:
        """Training batches (shuffled when ``shuffle_train``)."""
        return self._loader("train", shuffle=self.shuffle_train)

    def val_dataloader(self) -> DataLoader | list:
        """Validation batches in dataset order; no loader (``[]``) when no val set is given."""
        if self.specs["val"] is None and self.datasets["val"] is None:
            return []  # Lightning then skips validation instead of failing
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        """Test batches in dataset order, never shuffled.

        Evaluation pairs dense and sparse results clip by clip and writes them in loader
        order, so two runs over the same dataset must see the same batches.
        """
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """Prediction batches in dataset order."""
        return self._loader("predict")

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Record the batch's skipped clips in the main process (workers cannot)."""
        if isinstance(batch, dict):
            self._batch_skips.extend(batch.get("skipped", []))
        return batch

    @property
    def skipped(self) -> list[dict]:
        """Every clip skipped so far: at indexing, probing, or while loading batches."""
        seen: dict[str, dict] = {}
        for dataset in self.datasets.values():
            for record in getattr(dataset, "skipped", []) or []:
                seen.setdefault(record["clip_id"], record)
        for record in self._batch_skips:
            seen.setdefault(record["clip_id"], record)
        return list(seen.values())
