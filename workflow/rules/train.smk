rule train_models:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=rules.build_structured_features.output.structured,
        topics=topic_input,
        text_features=text_feature_input,
        # Not read: training waits for the audit, which stops the run on an
        # implausible feature if so configured. Ancient, so that a rerun audit
        # (a changed threshold) retrains nothing: the features are unchanged.
        # A copy of the path: ancient() flags the very string it is given.
        audit=ancient(str(rules.audit_features.output.audit)),
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
