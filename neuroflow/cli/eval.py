"""``neuroflow-eval``: zero-shot evaluation, dense vs a sparse method (Hydra entry point).

The job is :func:`neuroflow.lit.run_eval.run_eval`; the settings are ``conf/eval.yaml``.
"""

from neuroflow.cli.app import hydra_command

main = hydra_command("eval", "neuroflow.lit.run_eval:run_eval")

if __name__ == "__main__":
    main()
