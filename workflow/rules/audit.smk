# The single-feature checks read the leakage_audit settings, so they are a job
# of their own: a changed threshold reruns this audit and the report, not the
# features (which check their own times), nor the models unless
# stop_on_implausible_feature makes training wait for it. One job per feature
# set and split, on the split's outer training rows only: scored on test rows,
# a finding would let the test labels steer what the analyst does next.
rule audit_features:
    input:
        cohort=rules.build_cohort.output.cohort,
        splits=rules.make_splits.output.splits,
        features=audited_features,
        helpers=HELPERS,
        imports=imported_scripts("audit_features"),
    output:
        audit=f"{RESULTS}/features/{{outcome}}/single_feature_audit_{{audited}}_{{timing}}.parquet",
    log:
        f"{LOGS}/audit_features/{{outcome}}_{{audited}}_{{timing}}.log",
    benchmark:
        f"{BENCHMARKS}/audit_features/{{outcome}}_{{audited}}_{{timing}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        leakage_audit=config["leakage_audit"],
    script:
        "../scripts/audit_features.py"
