rule train_models:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=rules.build_features.output.structured,
        topics=topic_input,
        helpers=HELPERS,
    output:
        predictions=f"{RESULTS}/models/{{outcome}}/{{timing}}_{{features}}/predictions.parquet",
        cv_results=f"{RESULTS}/models/{{outcome}}/{{timing}}_{{features}}/cv_results.parquet",
    params:
        design=design_name,
        models=config["models"],
        seed=config["seed"],
    log:
        f"{LOGS}/train_models/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/train_models/{{outcome}}_{{timing}}_{{features}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/train_models.py"
