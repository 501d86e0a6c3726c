"""The paper's tables, figures and reproduction report from results folders (``neuroflow-paper``).

- :mod:`~neuroflow.paper.collect` finds and reads the runs (:mod:`~neuroflow.paper.wandb_runs`:
  the offline W&B ones).
- :mod:`~neuroflow.paper.coverage` lists the paper's 22 tables and 3 figures in paper order
  (:mod:`~neuroflow.paper.items` and its groups ``items_accuracy``, ``items_speed``,
  ``items_llm``), each with the commands that reproduce it and our numbers (``ours`` and
  ``ours_accuracy``, ``ours_speed``, ``ours_llm``).
- :mod:`~neuroflow.paper.layouts` lays out the tables (:mod:`~neuroflow.paper.tables` writes
  them), :mod:`~neuroflow.paper.figures` draws the figures (``figures_accuracy``,
  ``figures_speed`` on :mod:`~neuroflow.paper.plotting`).
- :mod:`~neuroflow.paper.report` writes the report.
"""
