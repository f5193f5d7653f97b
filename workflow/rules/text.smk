rule redact_notes:
    input:
        notes=raw_table("notes"),
        people=raw_table("people"),
        helpers=HELPERS,
    output:
        shards=expand(f"{RESULTS}/text/notes/shard_{{shard}}.parquet", shard=SHARDS),
    params:
        notes_columns=config["data"]["tables"]["notes"]["columns"],
        people_columns=config["data"]["tables"]["people"]["columns"],
        list_separator=config["data"]["list_separator"],
        key_env=config["pseudonymisation"]["key_env"],
        key_file=config["pseudonymisation"]["key_file"],
        demo_key=demo_key(),
        shards=len(SHARDS),
    log:
        f"{LOGS}/redact_notes.log",
    benchmark:
        f"{BENCHMARKS}/redact_notes.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/text.yaml"
    script:
        "../scripts/redact_notes.py"


rule normalise_notes:
    input:
        notes=f"{RESULTS}/text/notes/shard_{{shard}}.parquet",
        helpers=HELPERS,
    output:
        tokens=f"{RESULTS}/text/tokens/shard_{{shard}}.parquet",
    params:
        stop_words=config["text"]["stop_words"],
        min_token_length=config["text"]["min_token_length"],
    log:
        f"{LOGS}/normalise_notes/shard_{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/normalise_notes/shard_{{shard}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../../envs/text.yaml"
    script:
        "../scripts/normalise_notes.py"
