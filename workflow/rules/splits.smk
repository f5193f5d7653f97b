rule make_splits:
    input:
        cohort=rules.build_cohort.output.cohort,
        children=rules.ingest_records.output.children,
        referrals=rules.ingest_records.output.referrals,
        helpers=HELPERS,
    output:
        splits=f"{RESULTS}/splits/{{outcome}}/{{timing}}.parquet",
        diagnostics=f"{RESULTS}/splits/{{outcome}}/{{timing}}_diagnostics.parquet",
    log:
        f"{LOGS}/make_splits/{{outcome}}_{{timing}}.log",
    benchmark:
        f"{BENCHMARKS}/make_splits/{{outcome}}_{{timing}}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        timing="{timing}",
        sizes=split_sizes,
        size_settings=split_size_settings,
        seed=config["seed"],
    script:
        "../scripts/make_splits.py"
