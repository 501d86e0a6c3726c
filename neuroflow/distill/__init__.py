"""Sparse manifold distillation: train a sparse Arch-B student toward a frozen dense teacher."""
