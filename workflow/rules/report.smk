rule summarise_results:
    input:
        metrics=all_evaluations("metrics"),
        details=all_evaluations("details"),
        helpers=HELPERS,
        imports=imported_scripts("summarise_results"),
    output:
        summary=f"{RESULTS}/summary.parquet",
        # The report shows the CSV copy: Snakemake's report cannot display Parquet.
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
    params:
        feature_sets=FEATURE_SETS,
        disclosure_min_count=config["disclosure"]["min_count"],
    script:
        "../scripts/summarise_results.py"


rule compare_runs:
    input:
        summary=rules.summarise_results.output.summary,
        earlier=earlier_summary(),
        helpers=HELPERS,
        imports=imported_scripts("compare_runs"),
    output:
        deltas=f"{RESULTS}/deltas.parquet",
    log:
        f"{LOGS}/compare_runs.log",
    benchmark:
        f"{BENCHMARKS}/compare_runs.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../scripts/compare_runs.py"


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
        learning_curves=expand(
            rules.learning_curve.output.learning_curve,
            outcome=OUTCOMES,
            timing=TIMINGS,
            features=FEATURE_SETS,
        ),
        effects=expand(
            rules.accumulated_local_effects.output.effects,
            outcome=OUTCOMES,
            timing=TIMINGS,
            features=FEATURE_SETS,
        ),
        splits=expand(rules.make_splits.output.splits, outcome=OUTCOMES, timing=TIMINGS),
        split_diagnostics=expand(
            rules.make_splits.output.diagnostics, outcome=OUTCOMES, timing=TIMINGS
        ),
        audits=[
            *expand(
                [
                    rules.build_structured_features.output.audit,
                    *if_text([rules.build_text_features.output.audit]),
                ],
                outcome=OUTCOMES,
            ),
            *expand(
                rules.audit_features.output.audit,
                outcome=OUTCOMES,
                audited=AUDITED,
                timing=TIMINGS,
            ),
        ],
        deltas=run_deltas(),
        refit_bootstraps=refit_bootstraps(),
        topic_words=if_text(
            expand(rules.fit_topics.output.words, outcome=OUTCOMES, timing=TIMINGS)
        ),
        topic_coherence=if_text(
            expand(rules.fit_topics.output.coherence, outcome=OUTCOMES, timing=TIMINGS)
        ),
        ingest_qa=rules.ingest_records.output.qa,
        notes_qa=if_text(rules.ingest_notes.output.qa),
        text_qa=if_text(rules.redact_notes.output.qa),
        helpers=HELPERS,
        imports=imported_scripts("render_report"),
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
        feature_sets=FEATURE_SETS,
        success_threshold=config["evaluation"]["success_threshold"],
        compared_with=config["evaluation"]["compare_with"],
        max_age_years=config["population"]["max_age_years"],
        fairness_reference=config["fairness"]["reference"],
        disparity_band=config["fairness"]["disparity_band"],
        disclosure_min_count=config["disclosure"]["min_count"],
        balance=class_balance_settings(),
        min_inner_positives=config["evaluation"]["min_inner_positives"],
    script:
        "../scripts/render_report.py"


rule write_model_card:
    input:
        summary=rules.summarise_results.output.summary,
        cohort=rules.build_cohort.output.cohort,
        splits=expand(
            rules.make_splits.output.splits, outcome="{outcome}", timing=TIMINGS
        ),
        deciding_diagnostics=expand(
            rules.make_splits.output.diagnostics,
            outcome="{outcome}",
            timing=DECIDING_TIMING,
        ),
        features=rules.build_structured_features.output.structured,
        audits=expand(
            rules.audit_features.output.audit,
            outcome="{outcome}",
            audited=AUDITED,
            timing=TIMINGS,
        ),
        fairness=expand(
            rules.assess_fairness.output.groups,
            outcome="{outcome}",
            timing=TIMINGS,
            features=FEATURE_SETS,
        ),
        learning_curves=expand(
            rules.learning_curve.output.learning_curve,
            outcome="{outcome}",
            timing=TIMINGS,
            features=FEATURE_SETS,
        ),
        helpers=HELPERS,
        imports=imported_scripts("write_model_card"),
    output:
        card=report(
            f"{RESULTS}/model_cards/{{outcome}}.md",
            caption="../report/model_card.rst",
            category="3. Model cards",
        ),
    log:
        f"{LOGS}/write_model_card/{{outcome}}.log",
    benchmark:
        f"{BENCHMARKS}/write_model_card/{{outcome}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        la=LA,
        outcome="{outcome}",
        definition=outcome_settings,
        feature_sets=FEATURE_SETS,
        success_threshold=config["evaluation"]["success_threshold"],
        disparity_band=config["fairness"]["disparity_band"],
        min_group_size=config["fairness"]["min_group_size"],
        disclosure_min_count=config["disclosure"]["min_count"],
        max_age_years=config["population"]["max_age_years"],
        min_inner_positives=config["evaluation"]["min_inner_positives"],
    script:
        "../scripts/write_model_card.py"


rule summarise_las:
    input:
        summaries=cross_la_summaries(),
        helpers=HELPERS,
        imports=imported_scripts("summarise_las"),
    output:
        summary=f"{CROSS_LA}/summary.parquet",
        summary_csv=f"{CROSS_LA}/summary.csv",
    log:
        f"{CROSS_LA}/logs/summarise_las.log",
    benchmark:
        f"{CROSS_LA}/benchmarks/summarise_las.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        disclosure_min_count=config["disclosure"]["min_count"],
    script:
        "../scripts/summarise_las.py"
