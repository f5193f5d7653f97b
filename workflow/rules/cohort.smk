rule build_cohort:
    input:
        children=rules.ingest_records.output.children,
        referrals=rules.ingest_records.output.referrals,
        assessments=rules.ingest_records.output.assessments,
        section47=rules.ingest_records.output.section47,
        cp_plans=rules.ingest_records.output.cp_plans,
        care_episodes=rules.ingest_records.output.care_episodes,
        helpers=HELPERS,
    output:
        cohort=f"{RESULTS}/cohort/{{outcome}}.parquet",
    log:
        f"{LOGS}/build_cohort/{{outcome}}.log",
    benchmark:
        f"{BENCHMARKS}/build_cohort/{{outcome}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        outcome=cohort_settings,
        max_age_years=config["population"]["max_age_years"],
        data_end_date=config["data"]["data_end_date"],
    script:
        "../scripts/build_cohort.py"
