rule fit_topics:
    input:
        text_documents=rules.build_text_features.output.text_documents,
        splits=rules.make_splits.output.splits,
        cohort=rules.build_cohort.output.cohort,
        helpers=HELPERS,
    output:
        shares=f"{RESULTS}/topics/{{outcome}}/{{timing}}/shares.parquet",
        coherence=f"{RESULTS}/topics/{{outcome}}/{{timing}}/coherence.parquet",
        words=f"{RESULTS}/topics/{{outcome}}/{{timing}}/words.parquet",
    log:
        f"{LOGS}/fit_topics/{{outcome}}_{{timing}}.log",
    benchmark:
        f"{BENCHMARKS}/fit_topics/{{outcome}}_{{timing}}.tsv"
    conda:
        "../../envs/text.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        topics=topic_settings(),
        seed=config["seed"],
    script:
        "../scripts/fit_topics.py"


rule fit_tfidf:
    input:
        text_documents=rules.build_text_features.output.text_documents,
        splits=rules.make_splits.output.splits,
        shares=rules.fit_topics.output.shares,
        cohort=rules.build_cohort.output.cohort,
        helpers=HELPERS,
        imports=imported_scripts("fit_tfidf"),
    output:
        features=f"{RESULTS}/topics/{{outcome}}/{{timing}}/shares_tfidf.parquet",
        terms=f"{RESULTS}/topics/{{outcome}}/{{timing}}/tfidf_terms.parquet",
    log:
        f"{LOGS}/fit_tfidf/{{outcome}}_{{timing}}.log",
    benchmark:
        f"{BENCHMARKS}/fit_tfidf/{{outcome}}_{{timing}}.tsv"
    conda:
        "../../envs/text.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        tfidf=config["tfidf"],
        min_families=config["topics"]["min_families"],
    script:
        "../scripts/fit_tfidf.py"
