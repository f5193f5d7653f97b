rule summarise_results:
    input:
        metrics=all_evaluations("metrics"),
        details=all_evaluations("details"),
        helpers=HELPERS,
    output:
        summary=report(
            f"{RESULTS}/summary.parquet",
            caption="../report/summary.rst",
            category="1. Results against the bar",
        ),
        summary_csv=report(
            f"{RESULTS}/summary.csv",
            caption="../report/summary.rst",
            category="1. Results against the bar",
        ),
        all_models=f"{RESULTS}/evaluation/all_models.parquet",
    log:
        f"{LOGS}/summarise_results.log",
    benchmark:
        f"{BENCHMARKS}/summarise_results.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../scripts/summarise_results.py"


rule render_report:
    input:
        summary=rules.summarise_results.output.summary,
        all_models=rules.summarise_results.output.all_models,
        details=all_evaluations("details"),
        thresholds=all_evaluations("thresholds"),
        calibration=all_evaluations("calibration"),
        fairness=all_fairness(),
        cohorts=expand(rules.build_cohort.output.cohort, outcome=OUTCOMES),
        predictions=expand(
            rules.train_models.output.predictions,
            outcome=OUTCOMES,
            timing=TIMINGS,
            features=FEATURE_SETS,
        ),
        importance=expand(
            rules.train_models.output.importance,
            outcome=OUTCOMES,
            timing=TIMINGS,
            features=FEATURE_SETS,
        ),
        splits=expand(rules.make_splits.output.splits, outcome=OUTCOMES, timing=TIMINGS),
        split_diagnostics=expand(
            rules.make_splits.output.diagnostics, outcome=OUTCOMES, timing=TIMINGS
        ),
        audits=expand(rules.build_features.output.audit, outcome=OUTCOMES),
        topic_words=expand(
            rules.fit_topics.output.words, outcome=OUTCOMES, timing=TIMINGS
        ),
        topic_coherence=expand(
            rules.fit_topics.output.coherence, outcome=OUTCOMES, timing=TIMINGS
        ),
        ingest_qa=rules.ingest_records.output.qa,
        helpers=HELPERS,
    output:
        html=report(
            f"{RESULTS}/report/index.html",
            caption="../report/overview.rst",
            category="0. Overview",
        ),
        figures=report(
            directory(f"{RESULTS}/report/figures"),
            patterns=["{name}.png"],
            caption="../report/figure.rst",
            category="2. Figures",
        ),
    log:
        f"{LOGS}/render_report.log",
    benchmark:
        f"{BENCHMARKS}/render_report.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        la=LA,
        outcomes=config["outcomes"],
        success_threshold=config["evaluation"]["success_threshold"],
    script:
        "../scripts/render_report.py"
