"""``neuroflow-distill``: sparse manifold distillation of Arch B (Hydra entry point).

The job is :func:`neuroflow.lit.run_distill.run_distill`; the settings are ``conf/distill.yaml``.
"""

from neuroflow.cli.app import hydra_command

main = hydra_command("distill", "neuroflow.lit.run_distill:run_distill")

if __name__ == "__main__":
    main()
