# Helpers shared by all rule files (paths, wildcard values and config lookups).

import ast
import csv
import datetime
import difflib
import functools
import os
import re
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

CONFIG_SCHEMA = os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
sys.path.insert(0, os.path.join(workflow.basedir, "workflow/scripts"))
from common import (
    DECIDING_TIMING,
    InputError,
    is_shown_key_file,
    key_fingerprint,
    resolve_key,
    unshown_key_file_message,
)
from look_register import look, register_look, workflow_version


def config_problem(error):
    """Where the config breaks its schema and what to do, a line per problem."""
    path = list(error.absolute_path)
    where = ".".join(str(part) for part in path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = list(error.schema.get("properties", {}))
        place = f"under '{where}'" if where else "at the top level"
        advice = "Correct its spelling or remove it."
        if path[:2] == ["data", "tables"] and path[-1] == "columns":
            advice += (
                f" The keys are the canonical column names of the {path[2]} table "
                "(docs/contracts.md), each mapped to the name of that column in "
                "your export."
            )
        if path == ["pseudonymisation"]:
            advice += (
                " The key itself never goes in the config: put it in an environment "
                "variable and set key_env to the variable's name (by default "
                "LA_PSEUDONYMISATION_KEY), or in a file outside the repository and set "
                "key_file to the file's path."
            )
        lines = []
        for key in error.instance:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            # 'key' is no misspelt key_env: the key it holds belongs in neither.
            guess = f" (did you mean {close[0]!r}?)" if close and key != "key" else ""
            lines.append(
                f"config: unknown key {key!r} {place}{guess}; "
                f"allowed: {', '.join(allowed)}. {advice}"
            )
        return "\n".join(lines)
    if error.validator == "required" and path[:1] == ["outcomes"] and len(path) == 2:
        close = difflib.get_close_matches(path[1], default_outcomes(), n=1)
        if close:
            return (
                f"config: outcomes.{path[1]} is not a default outcome (did you mean "
                f"{close[0]!r}?). An outcome not in the defaults needs "
                f"{', '.join(error.validator_value)}: correct the name to change the "
                f"default outcome, or give them all to add a new one."
            )
    expected = (
        error.schema.get("description") if isinstance(error.schema, dict) else None
    )
    shown = error.message
    if path[:2] == ["data", "name_lists"] or path[:1] == ["pseudonymisation"]:
        # Names given in place of a list's file may identify someone (staff, a
        # school), and a value given for key_env may be the key itself; the
        # message reaches Snakemake's log: not echoed.
        kind = type(error.instance).__name__
        shown = shown.replace(repr(error.instance), f"the {kind} given (not shown)", 1)
    message = f"config: {where or 'top level'}: {shown}" + (
        f" (expected: {expected})" if expected else ""
    )
    if error.validator == "type" and isinstance(error.instance, str) and len(path) > 1:
        message += (
            ". If it was given with --config, which reads values nested in {...} "
            "as text, set it in a config file instead."
        )
    if isinstance(error.instance, datetime.date):
        message += (
            f'. Put the date in quotes ("{error.instance:%Y-%m-%d}"): unquoted, YAML '
            "reads it as a date, not as the text the config takes."
        )
    return message


@functools.cache
def default_config():
    """config/config.yaml as written: the defaults an LA's config file adds to
    or changes."""
    defaults = Path(workflow.basedir, "config", "config.yaml").read_text()
    return yaml.safe_load(defaults)


def default_outcomes():
    """The names of the default outcomes."""
    return list(default_config()["outcomes"])


def validate_config():
    """Check the config against workflow/schemas/config.schema.yaml and fill in
    its defaults. Snakemake's own message of a failed check prints the whole
    schema object around the problem; a config that breaks the schema stops
    here with one line per problem instead."""
    try:
        validate(config, CONFIG_SCHEMA)
    except WorkflowError:
        schema = yaml.safe_load(Path(CONFIG_SCHEMA).read_text())
        errors = jsonschema.Draft202012Validator(schema).iter_errors(config)
        # A column mapping is checked twice (as any table's and as its own),
        # so the same problem can come up twice.
        problems = dict.fromkeys(
            config_problem(jsonschema.exceptions.best_match([error]))
            for error in errors
        )
        raise WorkflowError(
            "\n".join(problems)
            + "\nEvery key is described in workflow/schemas/config.schema.yaml."
        ) from None


def drop_switched_off_outcomes():
    """Leave out the outcomes the config sets to null. Snakemake merges an LA's
    config file into config/config.yaml key by key, so without this an LA could
    not leave out the default outcomes (one without NFA closures, say)."""
    outcomes = config.get("outcomes")
    if isinstance(outcomes, dict):
        for name in [name for name, value in outcomes.items() if value is None]:
            del outcomes[name]


def date_keys(schema, path=()):
    """The config keys ``schema`` wants as dates (``format: date``, in the
    key's own schema or one of its alternatives), each as a tuple of keys."""
    alternatives = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    if any(alternative.get("format") == "date" for alternative in alternatives):
        yield path
    for key, subschema in schema.get("properties", {}).items():
        yield from date_keys(subschema, (*path, key))


ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")
DAY_MONTH_YEAR = re.compile(r"(\d\d?)/(\d\d?)/(\d{4})")


def date_problem(key, value):
    """Why ``value`` of config key ``key`` is not a date written yyyy-mm-dd,
    or None if it is one (or null). The schema validator does not check
    formats, and the scripts would read "01/03/2020" month first."""
    if value is None:
        return None
    if ISO_DATE.fullmatch(value):
        try:
            datetime.date.fromisoformat(value)
            return None
        except ValueError:
            pass
    problem = (
        f"config: {key} is {value!r}, not a date written yyyy-mm-dd (year-month-day: "
        "31 March 2020 is '2020-03-31')."
    )
    day_month_year = DAY_MONTH_YEAR.fullmatch(value)
    if day_month_year:
        day, month, year = (int(part) for part in day_month_year.groups())
        try:
            meant = datetime.date(year, month, day).isoformat()
            return f"{problem} Written dd/mm/yyyy as it looks, it is '{meant}'."
        except ValueError:
            pass
    return f"{problem} Dates written dd/mm/yyyy are the likely mistake."


def check_config_dates():
    """Stop on a date in the config not written yyyy-mm-dd, a line per date."""
    schema = yaml.safe_load(Path(CONFIG_SCHEMA).read_text())
    problems = []
    for path in date_keys(schema):
        value = functools.reduce(lambda node, key: (node or {}).get(key), path, config)
        problem = date_problem(".".join(path), value)
        if problem:
            problems.append(problem)
    if problems:
        raise WorkflowError("\n".join(problems))


drop_switched_off_outcomes()
validate_config()
check_config_dates()


def with_sorted_keys(value):
    """``value`` with the keys of every mapping in it (at any depth) sorted;
    lists keep their order, which can mean something."""
    if isinstance(value, dict):
        return {key: with_sorted_keys(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [with_sorted_keys(item) for item in value]
    return value


def sort_config_keys():
    """Sort the keys of every mapping in the config, in place. Snakemake reruns
    a job when the repr of one of its params changes, and a mapping's repr
    follows its key order, which comes from the order of the config files'
    keys and of the schema's defaults. Sorted, a reordered config file reruns
    nothing, and no script can depend on the order."""
    ordered = with_sorted_keys(config)
    config.clear()
    config.update(ordered)


sort_config_keys()


def expand_home_in_data_paths():
    """Expand a leading ``~`` (the user's home folder) in the config's data
    paths, in place, as the key file's is: the data folder, the code lists,
    the statutory returns, family table and converted tables' folder. Left as
    written, "~/la_data" is a folder named "~" inside the repository, which
    the repository check refuses, and no rule would find its files."""
    data = config["data"]
    data["directory"] = os.path.expanduser(data["directory"])
    data["code_lists"] = os.path.expanduser(data["code_lists"])
    statutory = config["statutory"]
    if not statutory:
        return
    for key in ("cin", "ssda903"):
        if key in statutory:
            statutory[key] = [os.path.expanduser(path) for path in statutory[key]]
    for key in ("families", "directory"):
        if statutory.get(key):
            statutory[key] = os.path.expanduser(statutory[key])


expand_home_in_data_paths()

LA = config["la"]
RESULTS = f"results/{LA}"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
# Summaries of several LAs are gathered outside any one LA's results.
CROSS_LA = "results/cross_la"
OUTCOMES = sorted(config["outcomes"])
TIMINGS = ["random", "time"]
# designs.text: false runs the structured designs only (no case notes needed).
TEXT = config["designs"]["text"]
FEATURE_SETS = ["structured", "text"] if TEXT else ["structured"]
# What the leakage audit's single-feature checks score: the structured
# features, and for the text designs the vulnerability flags and topic shares.
AUDITED = ["structured", "flags", "topics"] if TEXT else ["structured"]
SHARDS = list(range(config["text"]["shards"]))


def check_text_windows():
    """Refuse an outcome without ``text_window_days`` when the designs with
    text run; without them (designs.text: false) an outcome needs none."""
    lacking = [
        name for name in OUTCOMES if "text_window_days" not in config["outcomes"][name]
    ]
    if TEXT and lacking:
        raise WorkflowError(
            f"config: outcomes.{lacking[0]}.text_window_days is missing: the designs with "
            "text need it (the days of notes before the prediction point that make the "
            "text features). Set it, or set designs.text: false to run the structured "
            "designs alone."
        )


check_text_windows()
STRUCTURED_TABLES = [
    "children",
    "referrals",
    "assessments",
    "section47",
    "cp_plans",
    "care_episodes",
]
# Structured exports converted from statutory returns hold raw identifiers,
# so they are written beside the LA's data, never under results/.
STATUTORY_DIRECTORY = (
    config["statutory"]["directory"] if config["statutory"] else "unused-statutory"
)
CONVERTED_TABLES = [
    "children",
    "referrals",
    "assessments",
    "section47",
    "cp_plans",
    "care_episodes",
]


def check_converted_tables():
    """With statutory set, refuse data.tables entries of the converted tables
    other than config/config.yaml's, which name the files and columns the
    conversion writes: a case-management export's mapping (README step 2)
    would look for its own columns in the converted tables."""
    if not config["statutory"]:
        return
    defaults = default_config()["data"]["tables"]
    changed = [
        f"data.tables.{table}"
        for table in CONVERTED_TABLES
        if config["data"]["tables"][table] != defaults[table]
    ]
    if changed:
        listed = ", ".join(changed)
        raise WorkflowError(
            f"config: statutory is set, and the LA's config maps {listed} differently "
            "from config/config.yaml: with statutory set those tables are converted "
            "from the returns, with the file names and columns config/config.yaml "
            f"gives, so another mapping cannot match them. Remove {listed} from the "
            "LA's config (data.tables then maps only the case notes and people "
            "exports: notes, people)."
        )


check_converted_tables()

# Edits to the shared helper module must rerun the scripts that import it;
# Snakemake tracks only each rule's own script, so rules list it as an input.
HELPERS = "workflow/scripts/common.py"


def imported_scripts(script):
    """The workflow's own modules (other than HELPERS) that ``script`` imports,
    directly or through another: rules list them as inputs for the same reason."""
    folder = Path(workflow.basedir) / "workflow" / "scripts"
    found, pending = set(), [script]
    while pending:
        tree = ast.parse((folder / f"{pending.pop()}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if (
                    name != "common"
                    and name not in found
                    and (folder / f"{name}.py").is_file()
                ):
                    found.add(name)
                    pending.append(name)
    return sorted(f"workflow/scripts/{name}.py" for name in found)


# The labels, answers and disclosure rules the report and the model cards share.


def synthetic_directory():
    """Where the synthetic LA generator writes the exports named in config."""
    settings = config["synthetic"]
    return (
        f"resources/synthetic/generated/"
        f"seed{settings['seed']}_n{settings['n_children']}"
    )


def data_directory():
    """The folder holding the LA's raw exports."""
    if config["synthetic"]:
        return synthetic_directory()
    return config["data"]["directory"]


def under_any(path, folders):
    """Whether ``path`` is inside one of ``folders`` (both resolved)."""
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(Path(folder).resolve()) for folder in folders)


def configured_data_paths():
    """The LA's data paths in the config, by key: the raw exports' folder and
    the statutory returns, family table and converted tables."""
    statutory = config["statutory"] or {}
    return {
        "data.directory": [data_directory()],
        "statutory.cin": statutory.get("cin", []),
        "statutory.ssda903": statutory.get("ssda903", []),
        "statutory.families": (
            [statutory["families"]] if statutory.get("families") else []
        ),
        "statutory.directory": [STATUTORY_DIRECTORY] if statutory else [],
    }


def demo_key():
    """The configured demo key, only when every input is demo data: the raw
    exports under resources/synthetic, and any statutory returns, family
    table and converted tables under resources/synthetic or tests/data (the
    fake samples). The demo key is public, so real data never gets it."""
    paths = configured_data_paths()
    statutory_paths = [
        path
        for key, key_paths in paths.items()
        if key != "data.directory"
        for path in key_paths
    ]
    if under_any(paths["data.directory"][0], ["resources/synthetic"]) and all(
        under_any(path, ["resources/synthetic", "tests/data"])
        for path in statutory_paths
    ):
        return config["pseudonymisation"]["demo_key"]
    return None


def check_la_name():
    """Refuse the bundled LA's name for an LA's own data, which would otherwise
    land in results/synthetic, labelled as synthetic."""
    if LA == "synthetic" and demo_key() is None:
        raise WorkflowError(
            "config: la is 'synthetic' (the default) but the data is not the bundled "
            "synthetic LA's: set la: <a short name for your LA> in your LA's config "
            "file (results go to results/<la>/)."
        )


# The only data kept inside the repository: the bundled synthetic LA (and what
# is generated from it) under resources/synthetic/, and the fake statutory
# samples of the tests. Anything else there could be committed (git add -A) or
# shared with the code.
REPOSITORY_DATA_FOLDERS = [
    os.path.join(workflow.basedir, folder)
    for folder in ("resources/synthetic", "tests/data")
]


def check_data_outside_repository():
    """Refuse a key file anywhere in the repository, and LA data in it outside
    REPOSITORY_DATA_FOLDERS: a secret or records there could be committed or
    shared with the code."""
    pseudonymisation = config["pseudonymisation"]
    key_file = pseudonymisation["key_file"]
    if key_file and not is_shown_key_file(Path(key_file).expanduser()):
        raise WorkflowError(unshown_key_file_message(pseudonymisation["key_env"]))
    if key_file and under_any(Path(key_file).expanduser(), [workflow.basedir]):
        raise WorkflowError(
            f"config: pseudonymisation.key_file {key_file} is inside the repository "
            f"({workflow.basedir}), where `git add -A` would commit the secret key and "
            "a copy of the code would carry it. Move the file outside the repository "
            "(e.g. ~/.la_pseudonymisation_key) and point key_file at it."
        )
    for key, paths in configured_data_paths().items():
        for path in paths:
            if under_any(path, [workflow.basedir]) and not under_any(
                path, REPOSITORY_DATA_FOLDERS
            ):
                raise WorkflowError(
                    f"config: {key} {path} is inside the repository ({workflow.basedir}), "
                    "where `git add -A` would commit the LA's records and a copy of the "
                    "code would carry them. Keep the LA's data outside the repository and "
                    f"point {key} at it; only the bundled demo data (under resources/synthetic/) "
                    "and the tests' samples (under tests/data/) belong inside it."
                )


def register_test_set_look():
    """After a run that executed jobs, append the run's summary, if new, to the
    register of looks at the test sets (workflow/scripts/look_register.py).
    The jobs are done by then: a register that cannot be read or written gets
    a warning naming it and what to do, never a failed run."""
    summary = Path(RESULTS, "summary.csv")
    register = Path(RESULTS, "test_set_looks.tsv")
    if not summary.exists():
        return
    try:
        row = look(summary, config, workflow_version(workflow.basedir))
        register_look(register, row)
    except (OSError, ValueError, csv.Error) as error:
        print(
            f"WARNING: this run's look at the test sets was not registered in "
            f"{register}: {error}. The results are complete. Move the register "
            "aside (keep it: it records the earlier looks) so that the next run "
            "starts a new one, or restore its header if it was edited.",
            file=sys.stderr,
        )


# Once per run: resolving the demo key logs a warning.
@functools.cache
def pseudonymisation_key_fingerprint():
    """A fingerprint of the key the run will pseudonymise with, found as the
    jobs find it. As a param of every rule that pseudonymises, it reruns them
    all when the key changes, so that records and notes never hold pseudonyms
    made with different keys. Without a usable key the workflow stops here,
    with the jobs' advice, before any job (the statutory conversion, say) runs
    or a dry run plans a run that could not finish."""
    settings = config["pseudonymisation"]
    try:
        key = resolve_key(settings["key_env"], settings["key_file"], demo_key())
    except InputError as error:
        raise WorkflowError(str(error)) from None
    return key_fingerprint(key)


def statutory_families():
    """The optional table of family ids that statutory returns lack."""
    families = config["statutory"]["families"] if config["statutory"] else None
    return families or []


def ssda903_files():
    """The SSDA903 returns as the files the conversion reads: each listed
    folder is expanded into its files, since a file rewritten in place leaves
    the folder's mtime alone and would not rerun the conversion."""
    if not config["statutory"]:
        return []
    from convert_statutory_returns import ssda903_folder_files

    return [
        str(file)
        for path in config["statutory"]["ssda903"]
        for file in (ssda903_folder_files(path) if Path(path).is_dir() else [path])
    ]


def raw_table(table):
    """Path of one raw export, as the LA's config names it."""
    if config["statutory"] and table in CONVERTED_TABLES:
        return os.path.join(
            STATUTORY_DIRECTORY, config["data"]["tables"][table]["path"]
        )
    spec = config["data"]["tables"].get(table)
    if spec is None:
        raise ValueError(
            f"config has no data.tables.{table}: add its path and column mapping "
            "(see config/config.yaml for an example)."
        )
    return os.path.join(data_directory(), spec["path"])


def name_lists():
    """Paths of the configured lists of names to redact (schools, places,
    teams, staff), by kind, for those that are set."""
    lists = config["data"]["name_lists"]
    return {
        kind: os.path.join(data_directory(), path)
        for kind, path in lists.items()
        if path
    }


def first_names_input():
    """The first-names list of the optional redaction pass, or nothing."""
    return config["text"]["first_names"] or []


def raw_structured_tables():
    """Named paths of the structured raw exports."""
    return {table: raw_table(table) for table in STRUCTURED_TABLES}


def column_mappings():
    """Canonical-to-raw column mappings of the structured tables."""
    return {
        table: config["data"]["tables"][table]["columns"] for table in STRUCTURED_TABLES
    }


def outcome_settings(wildcards):
    """The config of the job's outcome."""
    return config["outcomes"][wildcards.outcome]


# Outcome keys read by the feature, text and report stages only: changing one
# must not rerun the cohort and, through it, every design and topic model.
NOT_COHORT_KEYS = (
    "description",
    "text_window_days",
    "previous_text",
    "document_types",
    "current_referral_features",
    "exclude_features",
    "designs",
)


def cohort_settings(wildcards):
    """The config of the job's outcome that decides its cohort and labels."""
    return {
        key: value
        for key, value in config["outcomes"][wildcards.outcome].items()
        if key not in NOT_COHORT_KEYS
    }


def outcome_text_settings(wildcards):
    """Which notes make an outcome's text features: the window before the
    prediction point, the previous-text switch and the document types."""
    outcome = config["outcomes"][wildcards.outcome]
    return {
        key: outcome[key]
        for key in ("text_window_days", "previous_text", "document_types")
    }


def class_balance_settings():
    """How training balances the classes, for the jobs that fit its models; the
    undersampling ratio only when undersampling, as it changes nothing otherwise
    (so changing it then must rerun nothing)."""
    models = config["models"]
    if models["class_balance"] == "undersample":
        return {key: models[key] for key in ("class_balance", "undersample_ratio")}
    return {"class_balance": models["class_balance"]}


def model_search_settings():
    """The models training searches and how: the models not set to null (null
    leaves one out), search_iterations and the class balance; not threads,
    which changes speed but never results (so changing it must not rerun
    training)."""
    searched = {
        key: value
        for key, value in config["models"].items()
        if key not in ("threads", "class_balance", "undersample_ratio")
        and value is not None
    }
    return {**searched, **class_balance_settings()}


def topic_settings():
    """The topic models' settings; the bigram ones only when bigrams are
    learned, as they change nothing otherwise."""
    topics = config["topics"]
    if topics["bigrams"]:
        return topics
    return {
        key: value for key, value in topics.items() if not key.startswith("bigram_")
    }


def outcome_split_sizes(wildcards):
    """The sizes the job's outcome sets for its own split of this timing."""
    outcome = config["outcomes"][wildcards.outcome]
    return outcome.get("designs", {}).get(wildcards.timing, {})


def split_sizes(wildcards):
    """The test fraction and inner folds of the job's split: the outcome's own
    where it sets them, else the top-level designs'."""
    return {**config["designs"][wildcards.timing], **outcome_split_sizes(wildcards)}


def split_size_settings(wildcards):
    """The config key each split size comes from, and (``own``) where the
    outcome's own sizes go, for make_splits' messages."""
    own = f"outcomes.{wildcards.outcome}.designs.{wildcards.timing}"
    own_sizes = outcome_split_sizes(wildcards)
    return {
        **{
            key: (
                f"{own}.{key}"
                if key in own_sizes
                else f"designs.{wildcards.timing}.{key}"
            )
            for key in config["designs"][wildcards.timing]
        },
        "own": own,
    }


def design_name(wildcards):
    """The study design: split timing and feature set."""
    return f"{wildcards.timing}_{wildcards.features}"


def if_text(files):
    """``files`` when the designs with text run, else nothing: with
    designs.text off no job reads the notes or makes the text chain's outputs."""
    return files if TEXT else []


def missing_export_problem(table, what):
    """Why the text designs' export ``table`` (``what`` it is) is missing and
    what to do: a wrong folder when the structured exports are missing too
    (switching text off would not help), else the notes' own absence, for
    which an LA without usable notes can run the structured designs alone."""
    path = raw_table(table)
    folder = Path(path).parent
    # Converted statutory tables are made by a rule, so they may not exist yet.
    structured = [
        raw_table(name)
        for name in STRUCTURED_TABLES
        if not (config["statutory"] and name in CONVERTED_TABLES)
    ]
    if not folder.is_dir():
        return (
            f"data.tables.{table}: {what} {path} does not exist, nor does its folder "
            f"{folder}: check data.directory (and data.tables.{table}.path) in the LA's "
            "config."
        )
    lost = [name for name in structured if not Path(name).exists()]
    if lost:
        return (
            f"data.tables.{table}: {what} {path} does not exist, nor do {len(lost)} of "
            f"the structured exports (e.g. {lost[0]}): check data.directory and the "
            "data.tables paths in the LA's config."
        )
    return (
        f"data.tables.{table}: {what} {path} does not exist. Put it there (or point "
        f"data.tables.{table}.path at it), or, without usable case notes, set "
        "designs.text: false in the LA's config to run the structured designs alone "
        "(docs/running.md)."
    )


def check_data_directory():
    """Stop on a data.directory that does not exist, naming the first export
    read from it (``missing_export_problem``). Checked before the key is looked
    for (``pseudonymisation_key_fingerprint``), as the folder is the first
    thing to fix; the generated synthetic exports are made by a rule."""
    if config["synthetic"] or Path(data_directory()).is_dir():
        return
    read_from_it = [
        table
        for table in STRUCTURED_TABLES
        if not (config["statutory"] and table in CONVERTED_TABLES)
    ] + (["notes", "people"] if TEXT else [])
    if read_from_it:
        table = read_from_it[0]
        raise WorkflowError(missing_export_problem(table, f"the {table} export"))


def text_export(table, what):
    """The path of an export only the designs with text read. Missing, it stops
    the run saying what to do (``missing_export_problem``; generated synthetic
    exports are made by a rule). With designs.text off, a text job asked for
    (``-R redact_notes``, say) stops saying so instead of lacking its input."""
    if not TEXT:
        raise WorkflowError(
            "designs.text is false: the designs with text are switched off, so no text "
            f"job runs and {what} is not read; set designs.text: true in the LA's config "
            "to run them."
        )
    path = raw_table(table)
    if not config["synthetic"] and not Path(path).exists():
        raise WorkflowError(missing_export_problem(table, what))
    return path


def notes_export(wildcards):
    """The case-notes export (``text_export``)."""
    return text_export("notes", "the case-notes export")


def people_export(wildcards):
    """The people export, whose names redaction removes from the notes
    (``text_export``)."""
    return text_export("people", "the people export (names to redact from the notes)")


def audited_features(wildcards):
    """The features one single-feature audit scores: the structured features,
    the vulnerability flags, or the split's topic shares."""
    if wildcards.audited == "topics":
        return topic_matrix(wildcards)
    if wildcards.audited == "flags":
        return rules.build_text_features.output.text_flags.format(
            outcome=wildcards.outcome
        )
    return rules.build_structured_features.output.structured.format(
        outcome=wildcards.outcome
    )


def audits_before_training(wildcards):
    """The single-feature audits of a design's features on its split, as
    inputs training does not read, when the audit stops the run on an
    implausible feature: training then waits for them, so no model is trained
    on a flagged feature (and a changed threshold retrains). Otherwise
    nothing: the audit only warns, and a changed threshold reruns the audits
    and the report alone. (Marked ancient instead, a rerun audit would hide
    from Snakemake 9.27 every other change downstream of training.)"""
    if not config["leakage_audit"]["stop_on_implausible_feature"]:
        return []
    return expand(
        rules.audit_features.output.audit,
        outcome=wildcards.outcome,
        audited=AUDITED if wildcards.features == "text" else ["structured"],
        timing=wildcards.timing,
    )


def topic_matrix(wildcards):
    """The topic shares (with TF-IDF weights if configured) of an outcome and
    split timing, as the text designs read them."""
    shares = (
        rules.fit_tfidf.output.features
        if config["tfidf"]["enabled"]
        else rules.fit_topics.output.shares
    )
    return shares.format(outcome=wildcards.outcome, timing=wildcards.timing)


def topic_input(wildcards):
    """Topic shares (with TF-IDF weights if configured) for text designs;
    nothing for structured-only designs."""
    if wildcards.features == "text":
        return topic_matrix(wildcards)
    return []


def text_feature_input(wildcards):
    """Vulnerability flags for text designs; nothing for structured-only designs."""
    if wildcards.features == "text":
        return rules.build_text_features.output.text_flags.format(
            outcome=wildcards.outcome
        )
    return []


def all_fairness():
    """Fairness tables of every outcome and design."""
    return expand(
        rules.assess_fairness.output.groups,
        outcome=OUTCOMES,
        timing=TIMINGS,
        features=FEATURE_SETS,
    )


def all_evaluations(table):
    """One evaluation table (metrics, details, ...) of every outcome and design."""
    return expand(
        getattr(rules.evaluate_models.output, table),
        outcome=OUTCOMES,
        timing=TIMINGS,
        features=FEATURE_SETS,
    )


def earlier_summary():
    """The earlier run's summary named by evaluation.compare_with."""
    path = config["evaluation"]["compare_with"]
    if not path:
        return []
    if Path(path).resolve() == Path(f"{RESULTS}/summary.parquet").resolve():
        raise ValueError(
            f"evaluation.compare_with is this run's own summary ({path}), which the run "
            "overwrites: copy the earlier summary.parquet elsewhere (e.g. "
            f"{RESULTS}/earlier/summary.parquet) and point compare_with at the copy."
        )
    return path


def run_deltas():
    """The changes since the earlier run, if one is configured."""
    if config["evaluation"]["compare_with"]:
        return rules.compare_runs.output.deltas
    return []


def cross_la_summaries():
    """The summaries of the LAs listed in cross_la_results."""
    return [f"{folder}/summary.parquet" for folder in config["cross_la_results"]]


def cross_la_targets():
    """The cross-LA summary, if LAs are listed in cross_la_results."""
    if config["cross_la_results"]:
        return rules.summarise_las.output.summary
    return []


def refit_bootstraps():
    """The refit bootstrap of every outcome and design, if switched on."""
    if config["evaluation"]["refit_bootstrap_resamples"] > 0:
        return expand(
            rules.refit_bootstrap.output.resamples,
            outcome=OUTCOMES,
            timing=TIMINGS,
            features=FEATURE_SETS,
        )
    return []


# After every helper they use is defined.
check_la_name()
check_data_outside_repository()
check_data_directory()
