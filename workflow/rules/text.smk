# One shard of redacted notes: redact_notes writes every shard at once (an
# expand, so no rules.x.output.y names one shard); each shard's jobs read it.
REDACTED_NOTES_SHARD = f"{RESULTS}/text/notes/shard_{{shard}}.parquet"


rule redact_notes:
    input:
        notes=notes_export,
        people=people_export,
        name_lists=list(name_lists().values()),
        first_names=first_names_input(),
        helpers=HELPERS,
    output:
        shards=expand(REDACTED_NOTES_SHARD, shard=SHARDS),
        qa=f"{RESULTS}/text/qa.parquet",
    log:
        f"{LOGS}/redact_notes.log",
    benchmark:
        f"{BENCHMARKS}/redact_notes.tsv"
    conda:
        "../../envs/text.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        notes_columns=config["data"]["tables"]["notes"]["columns"],
        people_columns=config["data"]["tables"]["people"]["columns"],
        list_separator=config["data"]["list_separator"],
        key_env=config["pseudonymisation"]["key_env"],
        key_file=config["pseudonymisation"]["key_file"],
        demo_key=demo_key(),
        key_fingerprint=pseudonymisation_key_fingerprint(),
        shards=len(SHARDS),
        name_list_kinds=list(name_lists()),
        first_name_exceptions=config["text"]["first_name_exceptions"],
        ner_model=config["text"]["ner_model"],
    script:
        "../scripts/redact_notes.py"


rule normalise_notes:
    input:
        notes=REDACTED_NOTES_SHARD,
        helpers=HELPERS,
        imports=imported_scripts("normalise_notes"),
    output:
        tokens=f"{RESULTS}/text/tokens/shard_{{shard}}.parquet",
    log:
        f"{LOGS}/normalise_notes/shard_{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/normalise_notes/shard_{{shard}}.tsv"
    conda:
        "../../envs/text.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        stop_words=config["text"]["stop_words"],
        min_token_length=config["text"]["min_token_length"],
        phrases=config["text"]["phrases"],
    script:
        "../scripts/normalise_notes.py"


rule flag_vulnerabilities:
    input:
        notes=REDACTED_NOTES_SHARD,
        lexicon=config["text"]["vulnerability_lexicon"],
        helpers=HELPERS,
    output:
        flags=f"{RESULTS}/text/flags/shard_{{shard}}.parquet",
    log:
        f"{LOGS}/flag_vulnerabilities/shard_{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/flag_vulnerabilities/shard_{{shard}}.tsv"
    conda:
        "../../envs/text.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        negation_window=config["text"]["negation_window"],
    script:
        "../scripts/flag_vulnerabilities.py"
