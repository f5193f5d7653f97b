rule train_models:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=rules.build_structured_features.output.structured,
        topics=topic_input,
        text_features=text_feature_input,
        audits=audits_before_training,
        helpers=HELPERS,
    output:
        predictions=f"{RESULTS}/models/{{outcome}}/{{timing}}_{{features}}/predictions.parquet",
        cv_results=f"{RESULTS}/models/{{outcome}}/{{timing}}_{{features}}/cv_results.parquet",
        importance=f"{RESULTS}/models/{{outcome}}/{{timing}}_{{features}}/importance.parquet",
    log:
        f"{LOGS}/train_models/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/train_models/{{outcome}}_{{timing}}_{{features}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=4000,
    params:
        design=design_name,
        models=model_search_settings(),
        seed=config["seed"],
    script:
        "../scripts/train_models.py"
