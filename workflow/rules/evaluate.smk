rule evaluate_models:
    input:
        predictions=rules.train_models.output.predictions,
        cv_results=rules.train_models.output.cv_results,
        helpers=HELPERS,
    output:
        metrics=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/metrics.parquet",
    log:
        f"{LOGS}/evaluate_models/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate_models/{{outcome}}_{{timing}}_{{features}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        outcome="{outcome}",
        design=design_name,
        success_threshold=config["evaluation"]["success_threshold"],
        decision_threshold=config["evaluation"]["decision_threshold"],
    script:
        "../scripts/evaluate_models.py"
