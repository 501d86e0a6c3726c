# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # neuroflow walkthrough (offline, tiny model)
#
# A synthetic scene with a static textured background and one moving square goes through a
# tiny random SigLIP tower, dense and with Arch C. We look at which patches the retinal gate
# recomputes, compare them with the scene's ground-truth motion mask, and check that keeping
# every token reproduces the dense model exactly. Open it as a notebook with
# `jupytext --to notebook notebooks/walkthrough.py`, or run it as a script.

# %%
# No backend is forced: a notebook shows figures inline, a script without a display falls back
# to Agg (matplotlib's own choice), and the figure is also saved as a file either way.
import matplotlib.pyplot as plt
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.data import FrameTransform, moving_square
from neuroflow.stream import StreamEngine
from neuroflow.viz import mask_to_image, overlay_mask

tower = load_vision_model("tiny-siglip")  # 32x32 input, patch 4: an 8x8 grid of patches
scene = moving_square(num_frames=8, size=32, square=8, speed=4.0, patch_size=4, seed=0)
frames = FrameTransform(32)(scene.frames)  # [T, 3, 32, 32], normalised like SigLIP
print(frames.shape, scene.motion_mask.shape)

# %% [markdown]
# ## Arch C: recompute only surprising patches, pool over the cortical cache

# %%
model = make_arch("C", tower, threshold=1e-4, ema_decay=0.5, floor_tokens=0)
state = model.new_state(batch=1)
with torch.inference_mode():
    outs = [model(frame[None], state) for frame in frames]
    dense = [tower(frame[None]) for frame in frames]
for t, out in enumerate(outs):
    fidelity = torch.nn.functional.cosine_similarity(out.embedding, dense[t]).item()
    moved = int(scene.motion_mask[t].sum())
    print(
        f"frame {t}: kept {out.keep_fraction.item():.2f}, moved patches {moved:2d}, "
        f"fidelity {fidelity:.4f}"
    )

# %% [markdown]
# Every patch the square touched since the previous frame is recomputed; the static
# background is not (after the dense first frame).

# %%
fig, axes = plt.subplots(2, 4, figsize=(8, 4))
for ax, t in zip(axes[0], range(1, 5), strict=True):
    ax.imshow(overlay_mask(scene.frames[t], outs[t].keep_mask[0], (8, 8)))
    ax.set_title(f"recomputed, frame {t}")
for ax, t in zip(axes[1], range(1, 5), strict=True):
    ax.imshow(mask_to_image(scene.motion_mask[t].flatten(), (8, 8), on=(200, 30, 30)))
    ax.set_title(f"moved, frame {t}")
for ax in axes.flat:
    ax.set_axis_off()
fig.tight_layout()
fig.savefig("walkthrough_masks.png")

# %% [markdown]
# ## Many streams, one encoder call per tick
# A `StreamEngine` keeps every stream's gate state and cache apart and packs the kept tokens of
# all streams into one call; streams join and leave at any tick.

# %%
engine = StreamEngine(make_arch("C", tower, threshold=1e-4, ema_decay=0.5, floor_tokens=0))
engine.add_stream("early")
for t in range(len(frames) - 2):
    if t == 2:
        engine.add_stream("late")
    ticked = {"early": frames[t], **({"late": frames[t - 2]} if t >= 2 else {})}
    engine.tick(ticked)
for name, stats in engine.stats().items():
    print(f"{name}: {stats.frames} frames, keep after the first {stats.steady_keep_fraction:.2f}")

# %% [markdown]
# ## Exactness: keep every token and Arch C equals the dense model

# %%
keep_all = make_arch("C", tower, mode="budget", keep_fraction=1.0)
state = keep_all.new_state(batch=1)
with torch.inference_mode():
    worst = max(
        (keep_all(f[None], state).embedding - tower(f[None])).abs().max().item() for f in frames
    )
print(f"max |Arch C - dense| with every token kept: {worst:.2e}")
assert worst <= 1e-5
