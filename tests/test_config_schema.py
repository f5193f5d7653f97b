"""The config schema: every misspelt key is refused and named, column mappings
take only canonical names, and the documented commands parse as written."""

import copy
import datetime
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ROOT, snakemake
from snakemake.utils import update_config

SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
DEFAULTS = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
CONFIGS = sorted((ROOT / "config").glob("*.yaml"))
# Canonical raw column names of each table (docs/contracts.md).
CANONICAL_COLUMNS = {
    "children": ["child_id", "family_id", "sex", "date_of_birth", "ethnicity", "disabilities"],
    "referrals": [
        "referral_id",
        "child_id",
        "referral_date",
        "referral_source",
        "primary_need",
        "nfa",
        "closure_date",
        "closure_reason",
    ],
    "assessments": [
        "assessment_id",
        "referral_id",
        "child_id",
        "start_date",
        "authorisation_date",
        "factors",
    ],
    "section47": ["referral_id", "child_id", "start_date", "icpc_date"],
    "cp_plans": ["referral_id", "child_id", "start_date", "end_date", "category"],
    "care_episodes": ["child_id", "start_date", "end_date", "legal_status", "placement"],
    "notes": ["note_id", "child_id", "note_datetime", "document_type", "text"],
    "people": ["child_id", "first_name", "last_name", "carer_names"],
}


def merged(change: dict) -> dict:
    """config/config.yaml with ``change`` merged in, as Snakemake merges a configfile."""
    config = copy.deepcopy(DEFAULTS)
    update_config(config, copy.deepcopy(change))
    return config


def schema_errors(config: dict) -> list[jsonschema.ValidationError]:
    return list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(config))


def nested(path: str, value) -> dict:
    """``{"a": {"b": value}}`` for ``path`` "a.b"."""
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


def object_schemas(schema, where: str = "schema"):
    """Every object-typed subschema of ``schema`` with its location."""
    if isinstance(schema, dict):
        types = schema.get("type")
        if "properties" in schema or types == "object" or "object" in (types or []):
            yield where, schema
        for key, value in schema.items():
            yield from object_schemas(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for position, value in enumerate(schema):
            yield from object_schemas(value, f"{where}[{position}]")


def test_every_object_of_the_schema_says_which_keys_it_takes():
    # An object without additionalProperties silently ignores a misspelt key.
    # (A table's own schema leaves that to the definition it refers to.)
    open_objects = [
        where
        for where, schema in object_schemas(SCHEMA)
        if "additionalProperties" not in schema and "$ref" not in schema
    ]
    assert not open_objects


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_bundled_config_is_valid(config):
    assert not schema_errors(merged(yaml.safe_load(config.read_text())))


@pytest.mark.parametrize(
    "path",
    [
        "sed",
        "data.directroy",
        "evaluation.sucess_threshold",
        "models.treads",
        "models.lightgbm.n_estimator",
        "pseudonymisation.key_fiel",
        "text.shard",
        "topics.num_topic",
        "tfidf.max_term",
        "designs.tiem",
        "designs.random.test_fration",
        "fairness.min_group",
        "fairness.reference.ethnicty",
        "population.max_age",
        "leakage_audit.max_auc",
        "outcomes.escalation.horizon",
        "synthetic.sed",
        "data.tables.referrals.pth",
        "data.tables.referrals.columns.referal_date",
    ],
)
def test_a_misspelt_key_is_refused_where_it_is(path):
    *parents, key = path.split(".")
    change = nested(path, "x")
    if parents == ["synthetic"]:
        change["synthetic"].update(seed=1, n_children=100)
    if parents == ["fairness", "reference"]:
        change["fairness"]["reference"]["sex"] = "female"
    errors = [jsonschema.exceptions.best_match([error]) for error in schema_errors(merged(change))]
    assert [(list(error.absolute_path), error.validator) for error in errors] == [
        (parents, "additionalProperties")
    ] * len(errors)
    assert errors and all(f"'{key}' was unexpected" in error.message for error in errors)


@pytest.mark.parametrize("table", sorted(CANONICAL_COLUMNS))
def test_a_column_mapping_takes_the_canonical_names_of_its_table_only(table):
    properties = SCHEMA["properties"]["data"]["properties"]["tables"]["properties"]
    assert (
        list(properties[table]["properties"]["columns"]["properties"]) == CANONICAL_COLUMNS[table]
    )
    other = next(
        column
        for columns in CANONICAL_COLUMNS.values()
        for column in columns
        if column not in CANONICAL_COLUMNS[table]
    )
    assert schema_errors(merged(nested(f"data.tables.{table}.columns.{other}", "Column")))


def undescribed_keys(schema: dict, path: str = ""):
    """The config keys of ``schema`` without a description, their own or their
    definition's, which a message about a bad value of theirs would lack; the
    canonical names of a column mapping have their mapping's."""
    for key, subschema in schema.get("properties", {}).items():
        where = f"{path}.{key}".lstrip(".")
        reference = subschema.get("$ref", "").rpartition("/")[2]
        described = "description" in SCHEMA["definitions"].get(reference, subschema)
        if "description" not in subschema and not described and not path.endswith("columns"):
            yield where
        yield from undescribed_keys(subschema, where)
    for alternative in schema.get("oneOf", []):
        yield from undescribed_keys(alternative, path)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from undescribed_keys(schema["additionalProperties"], f"{path}.*")


def test_every_key_of_the_schema_is_described():
    # the description is what a message about a bad value says is expected
    assert list(undescribed_keys(SCHEMA)) == []


def test_null_leaves_the_decision_tree_out_and_other_models_stay():
    assert not schema_errors(merged({"models": {"decision_tree": None}}))
    assert schema_errors(merged({"models": {"lightgbm": None}}))


def test_null_leaves_a_default_outcome_out(tmp_path):
    configfile = tmp_path / "la.yaml"
    configfile.write_text(yaml.safe_dump({"outcomes": {"nfa_rereferral": None}}))
    result = snakemake("-n", "--configfile", str(configfile))
    assert result.returncode == 0, result.stderr
    assert "outcome=escalation" in result.stdout
    assert "nfa_rereferral" not in result.stdout
    output = dry_run_failure(tmp_path, {"outcomes": {"nfa_rereferral": None, "escalation": None}})
    assert "config: outcomes: {} should be non-empty" in output


def test_the_text_designs_switch_is_a_boolean_on_by_default():
    switch = SCHEMA["properties"]["designs"]["properties"]["text"]
    assert switch["default"] is True and DEFAULTS["designs"]["text"] is True
    assert not schema_errors(merged({"designs": {"text": False}}))
    # a list of feature sets, a word or null is refused, naming the key
    for value in (["structured"], "no", None, 0):
        errors = schema_errors(merged({"designs": {"text": value}}))
        assert [list(error.absolute_path) for error in errors] == [["designs", "text"]], value


def test_a_wrong_text_designs_switch_stops_the_run_saying_what_it_does(tmp_path):
    output = dry_run_failure(tmp_path, {"designs": {"text": "off"}})
    assert "config: designs.text: 'off' is not of type 'boolean'" in output
    assert "for an LA without usable case notes" in output


def test_an_outcome_needs_a_text_window_only_when_the_text_designs_run(tmp_path):
    outcome = {
        "description": "A plan within 3 months of referral.",
        "type": "escalation",
        "events": ["cp_plan"],
        "horizon_months": 3,
        "prediction_offset_days": 1,
    }
    configfile = tmp_path / "la.yaml"
    configfile.write_text(
        yaml.safe_dump({"outcomes": {"plan_soon": outcome}, "designs": {"text": False}})
    )
    result = snakemake("-n", "--configfile", str(configfile))
    assert result.returncode == 0, result.stderr
    assert "outcome=plan_soon" in result.stdout
    output = dry_run_failure(tmp_path, {"outcomes": {"plan_soon": outcome}})
    assert "config: outcomes.plan_soon.text_window_days is missing" in output
    assert "or set designs.text: false" in output


def dry_run_failure(tmp_path: Path, change: dict) -> str:
    """What a dry run with ``change`` as the LA's configfile prints; it must fail."""
    configfile = tmp_path / "la.yaml"
    configfile.write_text(yaml.safe_dump(change))
    result = snakemake("-n", "--configfile", str(configfile))
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_the_run_stops_naming_a_misspelt_key_its_place_and_the_allowed_keys(tmp_path):
    output = dry_run_failure(tmp_path, {"data": {"directroy": "/tmp/x"}, "sed": 1})
    assert (
        "config: unknown key 'directroy' under 'data' (did you mean 'directory'?); "
        "allowed: directory, tables, list_separator, name_lists, extract_date, "
        "data_end_date, code_lists. Correct its spelling or remove it." in output
    )
    assert "config: unknown key 'sed' at the top level (did you mean 'seed'?)" in output
    # Snakemake's own message would dump the schema.
    assert "Failed validating" not in output


def test_the_run_stops_naming_a_misspelt_column_its_table_and_the_canonical_names(tmp_path):
    change = nested("data.tables.referrals.columns.referal_date", "CINreferralDate")
    output = dry_run_failure(tmp_path, change)
    assert (
        "config: unknown key 'referal_date' under 'data.tables.referrals.columns' "
        "(did you mean 'referral_date'?); allowed: " + ", ".join(CANONICAL_COLUMNS["referrals"])
    ) in output
    assert "canonical column names of the referrals table" in output


def test_the_run_stops_naming_a_bad_value_and_what_is_expected(tmp_path):
    output = dry_run_failure(tmp_path, {"evaluation": {"success_threshold": 1.5}})
    assert "config: evaluation.success_threshold: 1.5 is greater than the maximum of 1" in output
    assert "the pre-specified average precision a model must reach" in output


def date_keys(schema: dict, path: str = "") -> list[str]:
    """The config keys the schema wants as dates (format: date)."""
    alternatives = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    found = [path] if any(a.get("format") == "date" for a in alternatives) else []
    for key, subschema in schema.get("properties", {}).items():
        found += date_keys(subschema, f"{path}.{key}".lstrip("."))
    return found


DATE_KEYS = date_keys(SCHEMA)


def test_the_date_keys_are_the_extract_and_data_end_dates():
    # the schema's format: date is not checked by the validator; the workflow
    # checks every such key itself, so a new one is covered too
    assert DATE_KEYS == ["data.extract_date", "data.data_end_date"]


@pytest.mark.parametrize("key", DATE_KEYS)
def test_a_config_date_written_day_first_stops_the_run_saying_how_to_write_it(tmp_path, key):
    # pandas would read "01/03/2020" month first: 3 January, not 1 March
    output = dry_run_failure(tmp_path, nested(key, "01/03/2020"))
    assert f"config: {key} is '01/03/2020', not a date written yyyy-mm-dd" in output
    assert "Written dd/mm/yyyy as it looks, it is '2020-03-01'" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("value", ["2020-31-03", "31 March 2020", "2020-3-31", "20200331"])
def test_a_config_date_not_yyyy_mm_dd_stops_the_run_naming_key_and_value(tmp_path, value):
    output = dry_run_failure(tmp_path, {"data": {"data_end_date": value}})
    assert f"config: data.data_end_date is '{value}', not a date written yyyy-mm-dd" in output
    assert "Dates written dd/mm/yyyy are the likely mistake" in output


def test_an_unquoted_config_date_is_told_to_be_quoted(tmp_path):
    output = dry_run_failure(tmp_path, {"data": {"extract_date": datetime.date(2020, 4, 1)}})
    assert "config: data.extract_date: datetime.date(2020, 4, 1) is not valid" in output
    assert 'Put the date in quotes ("2020-04-01")' in output


def test_a_missing_key_stops_the_run_before_any_job_is_planned(tmp_path):
    # The example statutory returns converted outside resources/ get no demo
    # key; without one, the conversion once ran (and a dry run planned 63 jobs)
    # before ingestion stopped for want of a key.
    statutory = yaml.safe_load((ROOT / "config" / "example_statutory_returns.yaml").read_text())
    statutory["statutory"]["directory"] = str(tmp_path / "converted")
    output = dry_run_failure(tmp_path, statutory)
    assert "no pseudonymisation key: set the environment variable LA_PSEUDONYMISATION_KEY" in output
    assert "convert_statutory_returns" not in output
    # a key file set but missing is named, at once too
    statutory["pseudonymisation"] = {"key_file": str(tmp_path / "la.key")}
    output = dry_run_failure(tmp_path, statutory)
    assert f"key file {tmp_path / 'la.key'} (pseudonymisation.key_file) does not exist" in output
    assert "convert_statutory_returns" not in output
    # with a key, the same config plans the conversion
    del statutory["pseudonymisation"]
    (tmp_path / "la.yaml").write_text(yaml.safe_dump(statutory))
    key = {"LA_PSEUDONYMISATION_KEY": "0123456789abcdef0123"}
    result = snakemake("-n", "--configfile", str(tmp_path / "la.yaml"), extra_env=key)
    assert result.returncode == 0, result.stderr
    assert "convert_statutory_returns" in result.stdout


def test_a_data_folder_that_does_not_exist_is_named_before_the_key_is_asked_for(tmp_path):
    folder = tmp_path / "exports"
    output = dry_run_failure(tmp_path, {"la": "la9", "data": {"directory": str(folder)}})
    assert (
        f"data.tables.children: the children export {folder}/children.csv does not exist, "
        f"nor does its folder {folder}: check data.directory"
    ) in output
    assert "no pseudonymisation key" not in output


def test_a_misspelt_outcome_is_told_its_default_not_to_define_a_new_one(tmp_path):
    # merged with the defaults, "escalaton" is a new outcome lacking the keys a
    # new one needs: "'description' is a required property" invited defining it
    output = dry_run_failure(tmp_path, {"outcomes": {"escalaton": {"horizon_months": 6}}})
    assert (
        "config: outcomes.escalaton is not a default outcome (did you mean 'escalation'?). "
        "An outcome not in the defaults needs description, type, horizon_months, "
        "prediction_offset_days" in output
    )
    assert "is a required property" not in output
    # a new outcome far from any default's name is told what it lacks
    output = dry_run_failure(tmp_path, {"outcomes": {"plan_soon": {"horizon_months": 6}}})
    assert "config: outcomes.plan_soon: 'description' is a required property" in output


def test_a_name_list_given_as_names_is_told_what_is_expected_without_the_names(tmp_path):
    output = dry_run_failure(tmp_path, {"data": {"name_lists": {"staff": ["Smith"]}}})
    assert "config: data.name_lists.staff: the list given (not shown) is not of type" in output
    assert "(expected: one file (path relative to data.directory) listing the staff" in output
    assert "Smith" not in output
    output = dry_run_failure(tmp_path, {"models": {"lightgbm": {"num_leaves": 31}}})
    assert "config: models.lightgbm.num_leaves: 31 is not of type 'array' (expected: " in output


def test_with_statutory_returns_a_mapping_of_a_converted_table_is_refused(tmp_path):
    # README step 1 copies la4.yaml, step 2 maps the LA's referrals columns and
    # step 4 adds statutory: the converted referrals.csv then lacked the LA's
    # "Referral Date" column, which no fix of the export or mapping could cure
    example = yaml.safe_load((ROOT / "config" / "example_statutory_returns.yaml").read_text())
    la4 = yaml.safe_load((ROOT / "config" / "la4.yaml").read_text())
    referrals = la4["data"]["tables"]["referrals"]
    # la4's mapping is the defaults' own, so it matches the converted tables
    (tmp_path / "la.yaml").write_text(yaml.safe_dump({**la4, "statutory": example["statutory"]}))
    result = snakemake("-n", "--configfile", str(tmp_path / "la.yaml"))
    assert result.returncode == 0, result.stderr
    referrals["columns"]["referral_date"] = "Referral Date"
    output = dry_run_failure(tmp_path, {**la4, "statutory": example["statutory"]})
    assert (
        "config: statutory is set, and the LA's config maps data.tables.referrals differently "
        "from config/config.yaml" in output
    )
    assert "Remove data.tables.referrals from the LA's config" in output


def test_a_number_given_nested_in_config_option_gets_advice():
    # --config reads values nested in {...} as text, so a number there is a string.
    result = snakemake("-n", "--config", 'models={"threads": 2}')
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config: models.threads: '2' is not of type 'integer'" in output
    assert "set it in a config file instead" in output


SHELL_OPERATORS = ("&", "&&", "||", "|", ";")


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every snakemake command in the code blocks of the README and docs/,
    continuation lines joined."""
    commands = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```", page.read_text(), re.M | re.S)
        for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
            if "bin/snakemake " in line:
                command = line[line.index("bin/snakemake ") :].split("#")[0]
                words = shlex.split(command)
                # A shell operator ends the command ("... &" runs it in the background).
                ends = [p for p, word in enumerate(words) if word in SHELL_OPERATORS]
                commands.append((page.name, words[: min(ends, default=len(words))]))
    return commands


def test_documented_commands_put_no_target_after_a_config_option():
    # --config and --configfile take every following word up to the next option,
    # so a target after them is read as a config value or file.
    assert documented_commands()
    for page, words in documented_commands():
        for position, word in enumerate(words):
            if word not in ("--config", "--configfile"):
                continue
            following = []
            for value in words[position + 1 :]:
                if value.startswith("-"):
                    break
                following.append(value)
            if word == "--configfile":
                assert len(following) == 1, (page, words)
            else:
                assert following and all(re.match(r"^\w+=", value) for value in following), (
                    page,
                    words,
                )


def test_a_key_written_into_the_config_is_refused_without_being_echoed(tmp_path):
    # `key: <secret>` was told "did you mean 'key_env'?", and `key_env: <secret>`
    # then "set the environment variable <secret> to a long random secret"
    secret = "9f2c4e1ab7d35e08c6a1f4b2d9e7c3a5"
    output = dry_run_failure(tmp_path, {"pseudonymisation": {"key": secret}})
    assert "config: unknown key 'key' under 'pseudonymisation';" in output
    assert "did you mean" not in output
    assert "The key itself never goes in the config" in output
    assert "set key_env to the variable's name" in output
    assert secret not in output
    # a hex key starting with a letter is a valid variable name, but not in capitals
    for given in (secret, "a" + secret, "s3cr3t-K3y+value/of=length"):
        output = dry_run_failure(tmp_path, {"pseudonymisation": {"key_env": given}})
        shown = "config: pseudonymisation.key_env: the str given (not shown) does not match"
        assert shown in output
        assert "(expected: the name of the environment variable holding the key" in output
        assert given not in output
