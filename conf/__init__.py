"""neuroflow's Hydra configs, shipped inside the package as ``neuroflow.conf``.

Only YAML lives here; this file makes the folder importable so that the commands find their
configs through the installed package (``pkg://neuroflow.conf``), not the source tree.
"""
