# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Why Arch C fails on a content change (offline, mini SigLIP)
#
# In `ClipSpec(change=True)` clips the digit turns into another digit at frame `t_c` (2-5 of 12
# here); the clip's label is the new digit. The background stays still (only sensor noise changes),
# and the new digit covers only the patches the glyph covers. The retinal gate works on layer-0
# embeddings, so it recomputes only those patches; but in the dense model *every* patch's
# final-layer output changes, because every token attends to the digit. Arch C's cortical cache
# keeps the background's old final-layer outputs, computed while the old digit was in view, and the
# MAP head pools over all of them.
#
# We trace 16 change clips and 16 ordinary moving-glyph clips with
# `neuroflow.analysis.trace.trace_clips` (dense tower, Arch C and Arch B, "sparse without
# cache", from one gate at `neuroflow-eval`'s operating point θ = 0.20, α = 0.01, floor 4),
# and on the same pass run the paper's T7 probes of `neuroflow.analysis.probes`
# (`run_probes(tower, pixels, settings, names)` makes the same tables in a pass of its own).
# *Cache staleness* is `1 - cos(cache slot, dense final-layer output)` over the patches the
# gate did not recompute on a frame; *active shift* the same for the recomputed ones, whose
# sparse encoding saw only the other recomputed tokens as context. Open it with
# `jupytext --to notebook notebooks/content_change.py`, or run it as a script.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from neuroflow.analysis.probes import PROBES, cosine
from neuroflow.analysis.trace import TraceSettings, trace_clips
from neuroflow.eval.zeroshot import build_classifier, project_image
from neuroflow.glyphs.clips import ClipSpec, make_clips
from neuroflow.glyphs.dataset import to_pixels
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.text import TEMPLATES
from neuroflow.glyphs.zeroshot_images import pixel_stats
from neuroflow.models import wrap_tower
from neuroflow.models.mini_siglip import load_mini_siglip
from neuroflow.viz import overlay_mask

torch.set_num_threads(1)  # a 1.4 M-parameter model runs fastest on one thread
model, processor = load_mini_siglip()
tower = wrap_tower(model)
classifier = build_classifier(model, processor, CLASS_NAMES, TEMPLATES)
stats = pixel_stats(processor)
settings = TraceSettings(threshold=0.20, ema_decay=0.01, floor_tokens=4, batch=16)
FRAMES = 12
change = make_clips(16, ClipSpec(frames=FRAMES, change=True))
normal = make_clips(16, ClipSpec(frames=FRAMES))
print("change frames:", change.change_frame.tolist())
pairs = zip(change.first_labels, change.labels, strict=True)
print("old -> new digit:", [f"{a}->{b}" for a, b in pairs])
assert (change.first_labels != change.labels).all() and (normal.change_frame == FRAMES).all()

# %% [markdown]
# ## One pass per clip set
# For every frame: the three conditions' predictions, the gate's keep mask, the staleness of
# every inactive cache slot, which slots were recomputed at least once since the change, and
# what the MAP head makes of the slots that were not (pooled on their own). Ordinary clips
# have no change; they are aligned at the change frame of the change clip with the same index,
# so both sets are compared at the same frames.

# %%
PROBE_NAMES = ("contextual_incompatibility", "final_layer_stability", "map_entropy")


def predict(pooled: torch.Tensor) -> np.ndarray:
    return classifier.predict(project_image(model, pooled)).numpy()


def trace_set(clips, change_frame: np.ndarray) -> dict:
    """Per-frame ``[n, T]`` arrays of one clip set, and the probes' tables."""
    pixels = to_pixels(clips.frames, *stats)
    n, frames = pixels.shape[:2]
    probes = [PROBES[name].from_context(tower) for name in PROBE_NAMES]
    out = {k: np.zeros((n, frames), dtype=int) for k in ("dense", "arch_c", "sparse_no_cache")}
    out["stale_read"] = np.full((n, frames), -1)  # the head's digit from unrefreshed slots
    for k in ("staleness", "refreshed", "keep"):
        out[k] = np.full((n, frames), np.nan)
    patches = tower.num_patches(*pixels.shape[-2:])
    out["slot_staleness"] = np.zeros((n, frames, patches))
    out["keep_mask"] = np.zeros((n, frames, patches), dtype=bool)
    total, count = 0.0, 0
    since = None
    starts = torch.as_tensor(change_frame)
    for trace in trace_clips(tower, pixels, settings):
        t = trace.t
        for probe in probes:
            probe.update(trace)
        for condition, pooled in trace.pooled.items():
            out[condition][:, t] = predict(pooled)
        gap = 1.0 - cosine(trace.cache, trace.dense_final)  # [n, N] (SigLIP: no class token)
        inactive = ~trace.keep
        out["slot_staleness"][:, t] = gap.numpy()
        out["staleness"][:, t] = ((gap * inactive).sum(1) / inactive.sum(1).clamp(min=1)).numpy()
        if t >= 1:
            total, count = total + float(gap[inactive].double().sum()), count + int(inactive.sum())
        out["keep"][:, t] = trace.keep.float().mean(1).numpy()
        out["keep_mask"][:, t] = trace.keep.numpy()
        # slots recomputed at least once since the change (from the change frame on)
        since = trace.keep if since is None else since | trace.keep
        since = torch.where((starts == t)[:, None], trace.keep, since)
        after = starts <= t
        out["refreshed"][:, t] = np.where(after, since.float().mean(1).numpy(), np.nan)
        for i in torch.nonzero(after & ~since.all(1)).flatten().tolist():
            old_slots = trace.cache[i : i + 1, ~since[i]]
            out["stale_read"][i, t] = predict(tower.fast_pool(old_slots))[0]
    out["tables"] = {p.name: p.table() for p in probes}
    out["staleness_pooled"] = total / count  # token-weighted, frames t >= 1
    out["offset"] = np.arange(frames)[None, :] - change_frame[:, None]
    return out


with torch.inference_mode():
    runs = {"change": trace_set(change, change.change_frame)}
    runs["normal"] = trace_set(normal, change.change_frame)
# the per-frame staleness above is the T7 probe's cache staleness, frame by frame
for run in runs.values():
    probe_value = run["tables"]["contextual_incompatibility"].cache_staleness.item()
    assert abs(run["staleness_pooled"] - probe_value) < 1e-4, (run["staleness_pooled"], probe_value)

# %% [markdown]
# ## Predictions around the change
# Per frame since the change, the share of change clips whose frame prediction is the new
# digit (and, dashed, the old one).

# %%
# from 2 frames before the change to the last offset every clip reaches
offsets = np.arange(-2, FRAMES - change.change_frame.max())


def share(run: dict, key: str, target: np.ndarray) -> np.ndarray:
    """Per offset: share of the clips' frames at that offset where ``run[key] == target``."""
    hits = run[key] == target[:, None]
    return np.array([hits[run["offset"] == o].mean() for o in offsets])


c = runs["change"]
curves = pd.DataFrame(
    {
        "dense new": share(c, "dense", change.labels),
        "Arch C new": share(c, "arch_c", change.labels),
        "Arch C old": share(c, "arch_c", change.first_labels),
        "Arch B new": share(c, "sparse_no_cache", change.labels),
    },
    index=pd.Index(offsets, name="frames since change"),
)
print(curves.round(2).to_string())
after = c["offset"] >= 0
dense_after = (c["dense"] == change.labels[:, None])[after].mean()
c_after = (c["arch_c"] == change.labels[:, None])[after].mean()
c_old_after = (c["arch_c"] == change.first_labels[:, None])[after].mean()
print(f"after the change: dense {dense_after:.2f}; Arch C new {c_after:.2f}, old {c_old_after:.2f}")
assert dense_after > 0.9 and c_after < dense_after - 0.4 and c_old_after > c_after

# %% [markdown]
# ## What the gate refreshes, and how stale the rest is

# %%
n = runs["normal"]
table = pd.DataFrame(
    {
        "refreshed since change": [
            c["refreshed"][c["offset"] == o].mean() if o >= 0 else np.nan for o in offsets
        ],
        "keep (change clips)": [c["keep"][c["offset"] == o].mean() for o in offsets],
        "staleness, change clips": [c["staleness"][c["offset"] == o].mean() for o in offsets],
        "staleness, normal clips": [n["staleness"][n["offset"] == o].mean() for o in offsets],
    },
    index=pd.Index(offsets, name="frames since change"),
)
print(table.round(3).to_string())
post = table.loc[table.index >= 0]
# Most of the grid is never recomputed after the change, and its slots stay far from the
# dense outputs: several times the staleness ordinary clips have at the same frames.
assert (post["refreshed since change"] < 0.6).all()
assert (post["staleness, change clips"] > 2 * post["staleness, normal clips"]).all()

# %% [markdown]
# ## The unrefreshed slots still say the old digit
# The MAP head applied to only the slots not recomputed since the change: which digit does it
# read from them?

# %%
read = c["stale_read"]
valid = read >= 0
old_read = (read == change.first_labels[:, None])[valid].mean()
new_read = (read == change.labels[:, None])[valid].mean()
print(f"unrefreshed slots alone: old digit {old_read:.2f}, new {new_read:.2f}")
assert old_read > 0.8 > 0.2 > new_read

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for column, style in zip(curves.columns, ("k-o", "C0-o", "C0--", "C2-s"), strict=True):
    axes[0].plot(offsets, curves[column], style, ms=4, label=column)
axes[0].set(xlabel="frames since the change", ylabel="share of clips", title="frame prediction")
axes[1].plot(offsets, table["refreshed since change"], "C1-o", ms=4, label="recomputed since")
axes[1].plot(offsets, table["keep (change clips)"], "C1:", label="keep fraction of the frame")
axes[1].set(
    xlabel="frames since the change",
    ylabel="share of patches",
    ylim=(0, 1),
    title="what the gate recomputes (change clips)",
)
axes[2].plot(offsets, table["staleness, change clips"], "C3-o", ms=4, label="change clips")
axes[2].plot(offsets, table["staleness, normal clips"], "C7-o", ms=4, label="ordinary clips")
axes[2].set(
    xlabel="frames since the (change clips') change",
    ylabel="1 - cos(cache, dense)",
    title="cache staleness of inactive patches",
)
for ax in axes:
    ax.axvline(0, color="gray", lw=0.8, ls=":")
    ax.legend(fontsize=8)
fig.suptitle("Arch C on a digit change: the cache keeps the old digit")
fig.tight_layout()
fig.savefig("content_change_curves.png", dpi=80)
# dense follows the new digit from the change frame on; Arch C mostly does not
assert curves.loc[0, "dense new"] > 0.9 and curves.loc[0, "Arch C new"] < 0.5

# %% [markdown]
# ## One clip, slot by slot
# Top: the frames, with the patches Arch C recomputed. Bottom: `1 - cos(cache slot, dense
# output)` of every slot: for a recomputed slot that is its active shift, for the others
# their staleness. After the change the background's slots turn stale all at once although
# their pixels did not change: their dense outputs moved because they attend to the new digit.

# %%
clip = 0
t_c = int(change.change_frame[clip])
steps = [t for t in range(t_c - 1, t_c + 4) if t < FRAMES]
big = change.frames[clip].repeat(4, axis=1).repeat(4, axis=2)  # 128 px: thin outlines
keeps = torch.as_tensor(c["keep_mask"][clip])
fig, axes = plt.subplots(2, len(steps), figsize=(3.0 * len(steps), 6.0))
fig.subplots_adjust(left=0.01, right=0.9, bottom=0.02, top=0.85, wspace=0.05, hspace=0.25)
for col, t in enumerate(steps):
    axes[0, col].imshow(overlay_mask(big[t], keeps[t], (8, 8)), interpolation="nearest")
    axes[0, col].set_title(
        f"frame {t} ({t - t_c:+d}), kept {keeps[t].float().mean():.2f}\n"
        f"dense says {c['dense'][clip, t]}, Arch C {c['arch_c'][clip, t]}",
        fontsize=9,
    )
    heat = axes[1, col].imshow(
        c["slot_staleness"][clip, t].reshape(8, 8), cmap="magma", vmin=0, vmax=1.2
    )
    axes[1, col].set_title(f"inactive mean {c['staleness'][clip, t]:.2f}", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
fig.colorbar(heat, cax=fig.add_axes((0.92, 0.08, 0.012, 0.3)), label="1 - cos(cache, dense)")
old, new = change.first_labels[clip], change.labels[clip]
fig.suptitle(f"clip {clip}: digit {old} -> {new} at frame {t_c}")
fig.savefig("content_change_clip.png", dpi=80)
# the change frame turns the unrecomputed slots stale at once, and after it they are clearly
# further from dense than the recomputed ones
gaps, kept = c["slot_staleness"][clip, t_c:], c["keep_mask"][clip, t_c:]
print(f"after the change: recomputed {gaps[kept].mean():.3f}, the others {gaps[~kept].mean():.3f}")
assert c["staleness"][clip, t_c] > 2 * c["staleness"][clip, t_c - 1]
assert gaps[~kept].mean() > gaps[kept].mean() + 0.1

# %% [markdown]
# ## The T7 probes, change clips against ordinary clips
# Over every frame t >= 1 (before and after the change). On ordinary clips active shift and
# cache staleness are of one size; on change clips the staleness is several times larger, and
# it is the staleness, not the sparse encoding of the recomputed patches (active shift, the
# same in both), that breaks Arch C here: the opposite of the paper's T7 finding on ordinary
# video, where active shift dominates. A periodic refresh (`max_cache_age`) or pooling only
# fresh tokens (Arch B, green above) attacks exactly this part.

# %%
probe_tables = {
    name: pd.concat([r["tables"][name].assign(clips=k) for k, r in runs.items()]).set_index("clips")
    for name in PROBE_NAMES
}
for name, frame in probe_tables.items():
    print(name)
    print(frame.round(3).to_string())
ci = probe_tables["contextual_incompatibility"]
assert ci.loc["change", "cache_staleness"] > 2 * ci.loc["normal", "cache_staleness"]
assert ci.loc["change", "staleness_share"] > ci.loc["normal", "staleness_share"]
assert 0.5 < ci.loc["change", "active_shift"] / ci.loc["normal", "active_shift"] < 2.0
