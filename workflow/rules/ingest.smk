rule generate_synthetic_la:
    output:
        children="resources/synthetic/generated/seed{seed}_n{n_children}/children.csv",
        people="resources/synthetic/generated/seed{seed}_n{n_children}/people.csv",
        referrals="resources/synthetic/generated/seed{seed}_n{n_children}/referrals.csv",
        assessments="resources/synthetic/generated/seed{seed}_n{n_children}/assessments.csv",
        section47="resources/synthetic/generated/seed{seed}_n{n_children}/section47.csv",
        cp_plans="resources/synthetic/generated/seed{seed}_n{n_children}/cp_plans.csv",
        care_episodes="resources/synthetic/generated/seed{seed}_n{n_children}/episodes.csv",
        notes="resources/synthetic/generated/seed{seed}_n{n_children}/case_notes.csv",
        ground_truth="resources/synthetic/generated/seed{seed}_n{n_children}/ground_truth.csv",
    log:
        "resources/synthetic/generated/logs/seed{seed}_n{n_children}.log",
    benchmark:
        "resources/synthetic/generated/benchmarks/seed{seed}_n{n_children}.tsv"
    wildcard_constraints:
        seed=r"\d+",
        n_children=r"\d+",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        directory=subpath(output.children, parent=True),
        seed="{seed}",
        n_children="{n_children}",
    script:
        "../scripts/generate_synthetic_la.py"


rule ingest_records:
    input:
        **raw_structured_tables(),
        code_lists=config["data"]["code_lists"],
        helpers=HELPERS,
    output:
        children=f"{RESULTS}/ingest/children.parquet",
        referrals=f"{RESULTS}/ingest/referrals.parquet",
        assessments=f"{RESULTS}/ingest/assessments.parquet",
        section47=f"{RESULTS}/ingest/section47.parquet",
        cp_plans=f"{RESULTS}/ingest/cp_plans.parquet",
        care_episodes=f"{RESULTS}/ingest/care_episodes.parquet",
        qa=f"{RESULTS}/ingest/qa.parquet",
    log:
        f"{LOGS}/ingest_records.log",
    benchmark:
        f"{BENCHMARKS}/ingest_records.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        mappings=column_mappings(),
        list_separator=config["data"]["list_separator"],
        extract_date=config["data"]["extract_date"],
        key_env=config["pseudonymisation"]["key_env"],
        key_file=config["pseudonymisation"]["key_file"],
        demo_key=demo_key(),
        key_fingerprint=pseudonymisation_key_fingerprint(),
    script:
        "../scripts/ingest_records.py"


# The notes are checked apart from the structured tables, so that switching the
# text designs (or changing the notes' mapping) reruns nothing structured.
rule ingest_notes:
    input:
        notes=notes_export,
        children=rules.ingest_records.output.children,
        helpers=HELPERS,
        imports=imported_scripts("ingest_notes"),
    output:
        qa=f"{RESULTS}/ingest/notes_qa.parquet",
    log:
        f"{LOGS}/ingest_notes.log",
    benchmark:
        f"{BENCHMARKS}/ingest_notes.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        notes_columns=config["data"]["tables"]["notes"]["columns"],
        extract_date=config["data"]["extract_date"],
        key_env=config["pseudonymisation"]["key_env"],
        key_file=config["pseudonymisation"]["key_file"],
        demo_key=demo_key(),
        key_fingerprint=pseudonymisation_key_fingerprint(),
    script:
        "../scripts/ingest_notes.py"


rule convert_statutory_returns:
    input:
        cin=lookup(dpath="statutory/cin", within=config, default=[]),
        ssda903=ssda903_files(),
        families=statutory_families(),
        helpers=HELPERS,
    output:
        children=f"{STATUTORY_DIRECTORY}/children.csv",
        referrals=f"{STATUTORY_DIRECTORY}/referrals.csv",
        assessments=f"{STATUTORY_DIRECTORY}/assessments.csv",
        section47=f"{STATUTORY_DIRECTORY}/section47.csv",
        cp_plans=f"{STATUTORY_DIRECTORY}/cp_plans.csv",
        care_episodes=f"{STATUTORY_DIRECTORY}/episodes.csv",
        unlinked=f"{STATUTORY_DIRECTORY}/unlinked_records.csv",
    log:
        f"{STATUTORY_DIRECTORY}/convert_statutory_returns.log",
    benchmark:
        f"{STATUTORY_DIRECTORY}/convert_statutory_returns.tsv"
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        directory=subpath(output.children, parent=True),
        # The returns as listed: a folder is one year's return.
        ssda903=lookup(dpath="statutory/ssda903", within=config, default=[]),
    script:
        "../scripts/convert_statutory_returns.py"
