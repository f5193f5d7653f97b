# Can machine learning predict the escalation of children's social care cases
# in one local authority? See README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# common.smk first checks the config against workflow/schemas/config.schema.yaml
# and fills in its defaults.
include: "workflow/rules/common.smk"


wildcard_constraints:
    outcome="|".join(OUTCOMES),
    timing="|".join(TIMINGS),
    features="|".join(FEATURE_SETS),
    audited="|".join(AUDITED),
    shard=r"\d+",


include: "workflow/rules/ingest.smk"
include: "workflow/rules/text.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/splits.smk"
include: "workflow/rules/topics.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Every look at the test sets, in results/{la}/test_set_looks.tsv: the
# verdicts are honest only if the test cases judge one pre-specified analysis.
onsuccess:
    register_test_set_look()


onerror:
    register_test_set_look()


# The report's inputs are listed too: Snakemake rebuilds a missing file only
# when a job that needs it has to run, so without them an artefact lost to an
# interrupted rerun would stay missing behind an up-to-date report.
rule all:
    default_target: True
    input:
        rules.summarise_results.output.summary,
        rules.render_report.input,
        rules.render_report.output.html,
        expand(rules.write_model_card.output.card, outcome=OUTCOMES),
        cross_la_targets(),
