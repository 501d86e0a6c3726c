"""The paper's tables, figures and reproduction report from results folders (``neuroflow-paper``).

:mod:`~neuroflow.paper.collect` finds and reads the runs, :mod:`~neuroflow.paper.coverage`
lists the paper's 22 tables and 3 figures with the commands that reproduce them,
:mod:`~neuroflow.paper.layouts` and :mod:`~neuroflow.paper.figures` draw them and
:mod:`~neuroflow.paper.report` writes the report.
"""
