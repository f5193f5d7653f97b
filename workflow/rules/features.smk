rule build_features:
    input:
        cohort=rules.build_cohort.output.cohort,
        children=rules.ingest_records.output.children,
        referrals=rules.ingest_records.output.referrals,
        assessments=rules.ingest_records.output.assessments,
        section47=rules.ingest_records.output.section47,
        cp_plans=rules.ingest_records.output.cp_plans,
        care_episodes=rules.ingest_records.output.care_episodes,
        tokens=expand(rules.normalise_notes.output.tokens, shard=SHARDS),
        flags=expand(rules.flag_vulnerabilities.output.flags, shard=SHARDS),
        helpers=HELPERS,
    output:
        structured=f"{RESULTS}/features/{{outcome}}/structured.parquet",
        text_documents=f"{RESULTS}/features/{{outcome}}/text_documents.parquet",
        text_flags=f"{RESULTS}/features/{{outcome}}/text_flags.parquet",
        audit=f"{RESULTS}/features/{{outcome}}/leakage_audit.parquet",
    log:
        f"{LOGS}/build_features/{{outcome}}.log",
    benchmark:
        f"{BENCHMARKS}/build_features/{{outcome}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        outcome=outcome_text_settings,
        current_referral=lookup(
            dpath="outcomes/{outcome}/current_referral_features", within=config
        ),
        outcome_type=lookup(dpath="outcomes/{outcome}/type", within=config),
        leakage_audit=config["leakage_audit"],
    script:
        "../scripts/build_features.py"
