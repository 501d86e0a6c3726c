"""ClipDataModule: lazy dataset specs, Trainer integration, skip records from workers."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from neuroflow.data import SyntheticClipDataset
from neuroflow.data.datamodule import ClipDataModule
from neuroflow.data.dataset import collate_clips
from tests.unit.data.clipgen import ramp_frames, write_video


class _Recorder(pl.LightningModule):
    """Counts the clips a test loop sees."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.seen: list[str] = []

    def test_step(self, batch, batch_idx):
        self.seen += batch["clip_id"]

    def validation_step(self, batch, batch_idx):
        raise AssertionError("no validation set was given")

    def training_step(self, batch, batch_idx):
        return self.layer(batch["frames"].mean().view(1, 1)).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        **kwargs,
    )


@pytest.fixture()
def folder(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_video(tmp_path / name / "ok.avi", ramp_frames(6, 16, 16))
    (tmp_path / "b" / "broken.mp4").write_bytes(b"\x00" * 100)
    return tmp_path


def test_trainer_test_records_skips_from_workers(folder):
    spec = {"source": "video_folder", "path": folder, "num_frames": 4, "probe": False}
    dm = ClipDataModule(test=spec, batch_size=2, num_workers=1)
    model = _Recorder()
    _trainer().test(model, datamodule=dm)
    assert sorted(model.seen) == ["a/ok.avi", "b/ok.avi"]
    assert [s["clip_id"] for s in dm.skipped] == ["b/broken.mp4"]


def test_fit_on_synthetic_with_seeded_shuffle():
    dm = ClipDataModule(train=lambda: SyntheticClipDataset(4), batch_size=2, seed=3)
    _trainer(max_steps=2).fit(_Recorder(), datamodule=dm)
    order = lambda: [c for b in dm.train_dataloader() for c in b["clip_id"]]  # noqa: E731
    assert order() == order() and sorted(order()) == [f"synthetic/{i:05d}" for i in range(4)]


def test_loader_without_setup_and_missing_stage():
    dm = ClipDataModule(val=SyntheticClipDataset(2))
    batch = next(iter(dm.val_dataloader()))
    assert batch["frames"].shape == (1, 16, 3, 64, 64)
    assert np.array_equal(batch["label"].numpy(), [0])
    with pytest.raises(ValueError, match="no test dataset"):
        dm.test_dataloader()
    with pytest.raises(TypeError, match="cannot build"):
        ClipDataModule(test=42).test_dataloader()


def test_test_loader_is_the_evaluators_deterministic_loader():
    """Same batches as a plain unshuffled ``collate_clips`` loader, run after run."""
    dataset = SyntheticClipDataset(5)
    dm = ClipDataModule(test=dataset, batch_size=2, shuffle_train=True, seed=1)
    dm.setup("test")
    plain = list(DataLoader(dataset, batch_size=2, shuffle=False, collate_fn=collate_clips))
    for _ in range(2):
        batches = list(dm.test_dataloader())
        assert [b["clip_id"] for b in batches] == [b["clip_id"] for b in plain]
        assert [len(b["clip_id"]) for b in batches] == [2, 2, 1]
        for got, want in zip(batches, plain, strict=True):
            assert torch.equal(got["frames"], want["frames"])
            assert torch.equal(got["label"], want["label"])
    assert dm.datasets["test"] is dataset and dm.test_dataloader().collate_fn is collate_clips


def test_trainer_test_with_a_dataset_instance_sees_every_clip_in_order():
    dm = ClipDataModule(test=SyntheticClipDataset(3), batch_size=2)
    model = _Recorder()
    _trainer().test(model, datamodule=dm, verbose=False)
    assert model.seen == [f"synthetic/{i:05d}" for i in range(3)]
    assert dm.skipped == []
