# Structured and text features are separate jobs, so that a change to the text
# stage never reruns the structured-only designs.


rule build_structured_features:
    input:
        cohort=rules.build_cohort.output.cohort,
        children=rules.ingest_records.output.children,
        referrals=rules.ingest_records.output.referrals,
        assessments=rules.ingest_records.output.assessments,
        section47=rules.ingest_records.output.section47,
        cp_plans=rules.ingest_records.output.cp_plans,
        care_episodes=rules.ingest_records.output.care_episodes,
        code_lists=config["data"]["code_lists"],
        helpers=HELPERS,
    output:
        structured=f"{RESULTS}/features/{{outcome}}/structured.parquet",
        audit=f"{RESULTS}/features/{{outcome}}/leakage_audit_structured.parquet",
    log:
        f"{LOGS}/build_structured_features/{{outcome}}.log",
    benchmark:
        f"{BENCHMARKS}/build_structured_features/{{outcome}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        current_referral=lookup(
            dpath="outcomes/{outcome}/current_referral_features", within=config
        ),
        outcome_type=lookup(dpath="outcomes/{outcome}/type", within=config),
        prediction_offset_days=lookup(
            dpath="outcomes/{outcome}/prediction_offset_days", within=config
        ),
        exclude_features=lookup(
            dpath="outcomes/{outcome}/exclude_features", within=config
        ),
    script:
        "../scripts/build_structured_features.py"


rule build_text_features:
    input:
        cohort=rules.build_cohort.output.cohort,
        referrals=rules.ingest_records.output.referrals,
        tokens=expand(rules.normalise_notes.output.tokens, shard=SHARDS),
        flags=expand(rules.flag_vulnerabilities.output.flags, shard=SHARDS),
        helpers=HELPERS,
        imports=imported_scripts("build_text_features"),
    output:
        text_documents=f"{RESULTS}/features/{{outcome}}/text_documents.parquet",
        text_flags=f"{RESULTS}/features/{{outcome}}/text_flags.parquet",
        audit=f"{RESULTS}/features/{{outcome}}/leakage_audit_text.parquet",
    log:
        f"{LOGS}/build_text_features/{{outcome}}.log",
    benchmark:
        f"{BENCHMARKS}/build_text_features/{{outcome}}.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        outcome=outcome_text_settings,
        outcome_type=lookup(dpath="outcomes/{outcome}/type", within=config),
        prediction_offset_days=lookup(
            dpath="outcomes/{outcome}/prediction_offset_days", within=config
        ),
    script:
        "../scripts/build_text_features.py"
