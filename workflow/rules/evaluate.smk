rule evaluate_models:
    input:
        predictions=rules.train_models.output.predictions,
        cv_results=rules.train_models.output.cv_results,
        cohort=rules.build_cohort.output.cohort,
        helpers=HELPERS,
        imports=imported_scripts("evaluate_models"),
    output:
        metrics=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/metrics.parquet",
        details=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/details.parquet",
        thresholds=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/thresholds.parquet",
        calibration=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/calibration.parquet",
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
        top_k_percent=config["evaluation"]["top_k_percent"],
        bootstrap_resamples=config["evaluation"]["bootstrap_resamples"],
        calibration_bins=config["evaluation"]["calibration_bins"],
        seed=config["seed"],
    script:
        "../scripts/evaluate_models.py"


rule assess_fairness:
    input:
        predictions=rules.train_models.output.predictions,
        cv_results=rules.train_models.output.cv_results,
        cohort=rules.build_cohort.output.cohort,
        children=rules.ingest_records.output.children,
        helpers=HELPERS,
        imports=imported_scripts("assess_fairness"),
    output:
        groups=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/fairness.parquet",
    log:
        f"{LOGS}/assess_fairness/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/assess_fairness/{{outcome}}_{{timing}}_{{features}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        outcome="{outcome}",
        design=design_name,
        decision_threshold=config["evaluation"]["decision_threshold"],
        bootstrap_resamples=config["fairness"]["bootstrap_resamples"],
        fairness_reference=config["fairness"]["reference"],
        min_group_size=config["fairness"]["min_group_size"],
        disparity_band=config["fairness"]["disparity_band"],
        seed=config["seed"],
    script:
        "../scripts/assess_fairness.py"


rule learning_curve:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=rules.build_structured_features.output.structured,
        topics=topic_input,
        text_features=text_feature_input,
        cv_results=rules.train_models.output.cv_results,
        helpers=HELPERS,
        imports=imported_scripts("learning_curve"),
    output:
        learning_curve=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/learning_curve.parquet",
    log:
        f"{LOGS}/learning_curve/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/learning_curve/{{outcome}}_{{timing}}_{{features}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=4000,
    params:
        outcome="{outcome}",
        design=design_name,
        learning_curve_fractions=config["evaluation"]["learning_curve_fractions"],
        learning_curve_repeats=config["evaluation"]["learning_curve_repeats"],
        balance=class_balance_settings(),
        seed=config["seed"],
    script:
        "../scripts/learning_curve.py"


rule accumulated_local_effects:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=rules.build_structured_features.output.structured,
        topics=topic_input,
        text_features=text_feature_input,
        cv_results=rules.train_models.output.cv_results,
        importance=rules.train_models.output.importance,
        helpers=HELPERS,
        imports=imported_scripts("accumulated_local_effects"),
    output:
        effects=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/accumulated_local_effects.parquet",
    log:
        f"{LOGS}/accumulated_local_effects/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/accumulated_local_effects/{{outcome}}_{{timing}}_{{features}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=4000,
    params:
        outcome="{outcome}",
        design=design_name,
        ale_features=config["evaluation"]["ale_features"],
        ale_bins=config["evaluation"]["ale_bins"],
        balance=class_balance_settings(),
        seed=config["seed"],
    script:
        "../scripts/accumulated_local_effects.py"


rule refit_bootstrap:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=rules.build_structured_features.output.structured,
        topics=topic_input,
        text_features=text_feature_input,
        cv_results=rules.train_models.output.cv_results,
        predictions=rules.train_models.output.predictions,
        helpers=HELPERS,
        imports=imported_scripts("refit_bootstrap"),
    output:
        resamples=f"{RESULTS}/evaluation/{{outcome}}/{{timing}}_{{features}}/refit_bootstrap.parquet",
    log:
        f"{LOGS}/refit_bootstrap/{{outcome}}_{{timing}}_{{features}}.log",
    benchmark:
        f"{BENCHMARKS}/refit_bootstrap/{{outcome}}_{{timing}}_{{features}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: config["models"]["threads"]
    resources:
        mem_mb=4000,
    params:
        outcome="{outcome}",
        design=design_name,
        resamples=config["evaluation"]["refit_bootstrap_resamples"],
        balance=class_balance_settings(),
        seed=config["seed"],
    script:
        "../scripts/refit_bootstrap.py"
