rule make_splits:
    input:
        cohort=rules.build_cohort.output.cohort,
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
        test_fraction=lookup(dpath="designs/{timing}/test_fraction", within=config),
        inner_folds=lookup(dpath="designs/{timing}/inner_folds", within=config),
        seed=config["seed"],
    script:
        "../scripts/make_splits.py"
