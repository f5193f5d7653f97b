"""The synthetic LA generator: determinism, file formats, integrity, planted
identifiers, base rates and agreement of the outcomes with ground_truth.csv."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

import generate_synthetic_la as g  # noqa: E402

EXPECTED_COLUMNS = {
    "children.csv": "LAchildID UPN FamilyID Sex PersonBirthDate Ethnicity Disabilities "
    "NHSNumber Postcode",
    "people.csv": "LAchildID ChildFirstName ChildLastName CarerNames CarerPhone CarerEmail",
    "referrals.csv": "LAchildID CINdetailsID CINreferralDate ReferralSource PrimaryNeedCode "
    "ReferralNFA CINclosureDate ReasonForClosure",
    "assessments.csv": "LAchildID CINdetailsID AssessmentID AssessmentActualStartDate "
    "AssessmentAuthorisationDate AssessmentFactors",
    "section47.csv": "LAchildID CINdetailsID S47ActualStartDate DateOfInitialCPC",
    "cp_plans.csv": "LAchildID CINdetailsID CPPstartDate CPPendDate InitialCategoryOfAbuse",
    "episodes.csv": "CHILD DECOM RNE LS CIN PLACE DEC REC",
    "case_notes.csv": "NoteID LAchildID NoteDateTime DocumentType NoteText",
    "ground_truth.csv": "CINdetailsID LAchildID family_risk p_nfa_rereferral p_escalation",
}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UK = re.compile(r"^\d{2}/\d{2}/\d{4}$")
ETHNICITIES = {
    *("WBRI", "WIRI", "WOTH", "WIRT", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND"),
    *("APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"),
}
DISABILITIES = {"MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA"}
SOURCES = {
    *("1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4"),
    *("5A", "5B", "5C", "5D", "6", "7", "8", "9", "10"),
}
DOCUMENT_TYPES = {
    "Contact and referral form",
    "Social work assessment",
    "Strategy discussion",
    "Case note",
    "Child protection conference",
}


def read(directory: Path, name: str) -> pd.DataFrame:
    """A written export, every value a string, empty cells as ""."""
    return pd.read_csv(directory / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return g.generate(seed=3, n_children=300)


@pytest.fixture(scope="module")
def written(small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("la")
    g.write_exports(small, out)
    return out


@pytest.fixture(scope="module")
def medium() -> dict[str, pd.DataFrame]:
    """A 2,000-child LA; few notes, which leaves every structured table unchanged."""
    return g.generate(seed=11, n_children=2000, notes_per_referral=4)


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    """The labelled referrals of a 10,000-child LA (few notes), with family ids."""
    tables = g.generate(seed=21, n_children=10_000, notes_per_referral=4)
    families = tables["children"][["LAchildID", "FamilyID"]]
    return labelled_referrals(tables).merge(families, on="LAchildID", validate="many_to_one")


# ---------------------------------------------------------------------------
# Labels exactly as the workflow defines them, computed from the raw tables.
# ---------------------------------------------------------------------------
def labelled_referrals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Referrals with both labels, whether each label is observed, and the
    ground-truth probabilities."""
    ref = tables["referrals"].copy()
    ref["date"] = pd.to_datetime(ref["CINreferralDate"])
    ref["closed"] = pd.to_datetime(ref["CINclosureDate"].replace("", None)).fillna(ref["date"])
    ref["nfa"] = ref["ReferralNFA"] == "1"
    data_end = ref["date"].max()

    by_child = {k: np.sort(v.to_numpy()) for k, v in ref.groupby("LAchildID")["date"]}
    from_closure, from_point = [], []
    for child, date, closed, nfa in zip(
        ref["LAchildID"], ref["date"], ref["closed"], ref["nfa"], strict=True
    ):
        later = by_child[child][by_child[child] > closed.to_datetime64()]
        following = later[0] if len(later) else None
        # As the brief words it: re-referred within 12 months of the closure.
        horizon = (closed + pd.DateOffset(months=12)).to_datetime64()
        from_closure.append(int(nfa and following is not None and following <= horizon))
        # As build_cohort words it: closed NFA and re-referred, both within
        # 12 months of the prediction point (referral + 1 day).
        horizon = (date + pd.Timedelta(days=1) + pd.DateOffset(months=12)).to_datetime64()
        closed_in_time = closed.to_datetime64() <= horizon
        from_point.append(
            int(nfa and closed_in_time and following is not None and following <= horizon)
        )
    ref["nfa_label"] = from_closure
    ref["nfa_label_from_point"] = from_point
    # Censored whatever the NFA decision turns out to be, as build_cohort does.
    ref["nfa_observed"] = ref["date"] + pd.Timedelta(days=1) + pd.DateOffset(months=12) <= data_end

    cp, ep = tables["cp_plans"], tables["episodes"]
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "LAchildID": cp["LAchildID"],
                    "start": pd.to_datetime(cp["CPPstartDate"]),
                    "end": pd.to_datetime(cp["CPPendDate"].replace("", None)),
                }
            ),
            pd.DataFrame(
                {
                    "LAchildID": ep["CHILD"],
                    "start": pd.to_datetime(ep["DECOM"], format="%d/%m/%Y"),
                    "end": pd.to_datetime(ep["DEC"].replace("", None), format="%d/%m/%Y"),
                }
            ),
        ]
    )
    ref["point"] = ref["date"] + pd.Timedelta(days=14)
    ref["horizon"] = ref["point"] + pd.DateOffset(months=3)
    pairs = ref[["CINdetailsID", "LAchildID", "point", "horizon"]].merge(events, on="LAchildID")
    in_window = (pairs["start"] > pairs["point"]) & (pairs["start"] <= pairs["horizon"])
    ongoing = (pairs["start"] <= pairs["point"]) & (
        pairs["end"].isna() | (pairs["end"] > pairs["point"])
    )
    ref["escalation_label"] = ref["CINdetailsID"].isin(pairs.loc[in_window, "CINdetailsID"])
    ref["escalation_label"] = ref["escalation_label"].astype(int)
    ref["already_escalated"] = ref["CINdetailsID"].isin(pairs.loc[ongoing, "CINdetailsID"])
    ref["escalation_observed"] = ref["horizon"] <= data_end

    truth = tables["ground_truth"].copy()
    for column in ("family_risk", "p_nfa_rereferral", "p_escalation"):
        truth[column] = truth[column].astype(float)
    return ref.merge(truth, on=["CINdetailsID", "LAchildID"], validate="one_to_one")


# ---------------------------------------------------------------------------
# Determinism and formats.
# ---------------------------------------------------------------------------
def test_same_seed_and_size_give_byte_identical_files(written, tmp_path):
    g.write_exports(g.generate(seed=3, n_children=300), tmp_path)
    for name in [*EXPECTED_COLUMNS, "README.md"]:
        assert (tmp_path / name).read_bytes() == (written / name).read_bytes(), name


def test_different_seeds_give_different_data(small):
    other = g.generate(seed=4, n_children=300)
    for name in ("children", "referrals", "case_notes", "ground_truth"):
        assert not small[name].equals(other[name]), name


def test_exactly_the_requested_number_of_children(small):
    assert len(small["children"]) == 300
    assert small["children"]["LAchildID"].is_unique
    tiny = g.generate(seed=5, n_children=7, notes_per_referral=4)
    assert len(tiny["children"]) == 7


def test_every_file_has_exactly_the_specified_columns(written):
    for name, columns in EXPECTED_COLUMNS.items():
        header = (written / name).read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == columns.split(), name


def test_csv_round_trip_keeps_quotes_commas_and_line_breaks(small, written):
    notes = read(written, "case_notes.csv")
    assert notes["NoteText"].tolist() == small["case_notes"]["NoteText"].tolist()
    text = notes["NoteText"]
    assert text.str.contains("\n").any()
    assert text.str.contains('"').any()
    assert text.str.contains(",").any()
    raw = (written / "case_notes.csv").read_bytes()
    assert b"\r\n" not in raw
    raw.decode("utf-8")


def test_dates_and_codes_follow_the_statutory_formats(written):
    children = read(written, "children.csv")
    referrals = read(written, "referrals.csv")
    episodes = read(written, "episodes.csv")
    assert children["PersonBirthDate"].str.match(ISO).all()
    assert set(children["Sex"]) <= {"M", "F"}
    assert set(children["Ethnicity"]) <= ETHNICITIES
    codes = {c for cell in children["Disabilities"] for c in cell.split(";")}
    assert codes <= DISABILITIES | {"NONE"}
    assert children["UPN"].str.fullmatch(r"[A-Z]\d{12}").all()
    assert children["Postcode"].str.fullmatch(r"[A-Z]{2}\d{1,2} \d[A-Z]{2}").all()
    assert referrals["CINreferralDate"].str.match(ISO).all()
    closed = referrals["CINclosureDate"] != ""
    assert referrals.loc[closed, "CINclosureDate"].str.match(ISO).all()
    assert (referrals.loc[~closed, "ReasonForClosure"] == "").all()
    assert referrals.loc[closed, "ReasonForClosure"].str.fullmatch(r"RC[1-9]").all()
    assert set(referrals["ReferralSource"]) <= SOURCES
    assert referrals["PrimaryNeedCode"].str.fullmatch(r"N\d").all()
    assert set(referrals["ReferralNFA"]) == {"0", "1"}
    assert episodes["DECOM"].str.match(UK).all()
    assert episodes.loc[episodes["DEC"] != "", "DEC"].str.match(UK).all()
    assert set(episodes["RNE"]) <= {"S", "P", "T", "L", "B", "U"}
    assert (episodes.groupby("CHILD")["RNE"].first() == "S").all()
    cp = read(written, "cp_plans.csv")
    assert set(cp["InitialCategoryOfAbuse"]) <= {"NEG", "PHY", "SAB", "EMO", "MUL"}
    factors = read(written, "assessments.csv")["AssessmentFactors"]
    assert factors.str.fullmatch(r"\d{1,2}[A-F]?(;\d{1,2}[A-F]?)*").all()
    notes = read(written, "case_notes.csv")
    assert notes["NoteDateTime"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}").all()
    assert set(notes["DocumentType"]) == DOCUMENT_TYPES
    assert notes["NoteID"].is_unique
    truth = read(written, "ground_truth.csv")
    assert truth["p_escalation"].str.fullmatch(r"[01]\.\d{6}").all()


def test_readme_names_the_seed_size_and_that_data_are_synthetic(written):
    readme = (written / "README.md").read_text(encoding="utf-8")
    assert "seed 3" in readme and "300 children" in readme
    assert "synthetic" in readme.lower() and "generated" in readme.lower()


# ---------------------------------------------------------------------------
# Integrity and structure.
# ---------------------------------------------------------------------------
def test_referential_integrity(small):
    children = set(small["children"]["LAchildID"])
    referrals = small["referrals"]
    assert referrals["CINdetailsID"].is_unique
    assert set(referrals["LAchildID"]) == children  # every child is referred
    owner = dict(zip(referrals["CINdetailsID"], referrals["LAchildID"], strict=True))
    for name in ("assessments", "section47", "cp_plans", "ground_truth"):
        table = small[name]
        assert table["CINdetailsID"].isin(owner).all(), name
        assert (table["CINdetailsID"].map(owner) == table["LAchildID"]).all(), name
    assert set(small["episodes"]["CHILD"]) <= children
    assert set(small["case_notes"]["LAchildID"]) == children
    assert set(small["people"]["LAchildID"]) == children
    assert small["assessments"]["AssessmentID"].is_unique
    assert len(small["ground_truth"]) == len(referrals)


def test_siblings_share_family_surname_carers_and_postcode(small):
    people = small["people"].merge(small["children"], on="LAchildID")
    per_family = people.groupby("FamilyID").agg(
        size=("LAchildID", "size"),
        surnames=("ChildLastName", "nunique"),
        carers=("CarerNames", "nunique"),
        postcodes=("Postcode", "nunique"),
        phones=("CarerPhone", "nunique"),
        first_names=("ChildFirstName", "nunique"),
    )
    assert per_family["size"].between(1, 4).all()
    assert (per_family["size"] > 1).sum() > 30
    for column in ("surnames", "carers", "postcodes", "phones"):
        assert (per_family[column] == 1).all(), column
    assert (per_family["first_names"] == per_family["size"]).all()
    carers = people["CarerNames"].str.split(";")
    assert carers.str.len().between(1, 2).all()
    first_carer_surname = carers.str[0].str.split(" ").str[-1]
    assert (first_carer_surname == people["ChildLastName"]).all()


def test_referral_timelines_never_overlap(medium):
    ref = medium["referrals"].copy()
    ref["date"] = pd.to_datetime(ref["CINreferralDate"])
    ref["closed"] = pd.to_datetime(ref["CINclosureDate"].replace("", None))
    ref = ref.sort_values(["LAchildID", "date"])
    same = ref["LAchildID"].eq(ref["LAchildID"].shift())
    gap = (ref["date"] - ref["date"].shift()).dt.days
    assert (gap[same] >= 93).all()
    assert (ref["date"][same] > ref["closed"].shift()[same]).all()
    assert (ref["closed"].dropna() >= ref["date"][ref["closed"].notna()]).all()
    nfa = ref[ref["ReferralNFA"] == "1"]
    assert (nfa["ReasonForClosure"].isin(["RC8", ""])).all()
    assert ((nfa["closed"] - nfa["date"]).dt.days.dropna().between(1, 28)).all()


def test_every_record_ends_after_it_starts(medium):
    def parse(values: pd.Series, uk: bool = False) -> pd.Series:
        return pd.to_datetime(values.replace("", None), format="%d/%m/%Y" if uk else "ISO8601")

    ass = medium["assessments"]
    authorised = parse(ass["AssessmentAuthorisationDate"])
    assert (
        authorised.dropna() >= parse(ass["AssessmentActualStartDate"])[authorised.notna()]
    ).all()
    s47 = medium["section47"]
    icpc = parse(s47["DateOfInitialCPC"])
    assert (icpc.dropna() > parse(s47["S47ActualStartDate"])[icpc.notna()]).all()
    cp = medium["cp_plans"]
    ended = parse(cp["CPPendDate"])
    assert (ended.dropna() > parse(cp["CPPstartDate"])[ended.notna()]).all()
    ep = medium["episodes"]
    left = parse(ep["DEC"], uk=True)
    assert (left.dropna() > parse(ep["DECOM"], uk=True)[left.notna()]).all()
    ep = ep.assign(start=parse(ep["DECOM"], uk=True), end=left)
    follows = ep["CHILD"].eq(ep["CHILD"].shift()) & ep["RNE"].ne("S")
    assert (ep.loc[follows, "start"] == ep["end"].shift()[follows]).all()
    assert (ep["REC"].eq("") == ep["DEC"].eq("")).all()
    referrals = medium["referrals"].set_index("CINdetailsID")
    for table, column in ((ass, "AssessmentActualStartDate"), (cp, "CPPstartDate")):
        start = parse(table[column])
        referred = parse(table["CINdetailsID"].map(referrals["CINreferralDate"]))
        assert (start > referred).all(), column
    end = pd.Timestamp("2020-03-31")
    for table, column in ((medium["referrals"], "CINreferralDate"), (cp, "CPPstartDate")):
        assert (parse(table[column]) <= end).all(), column
    assert (parse(medium["case_notes"]["NoteDateTime"]) < end + pd.Timedelta(days=1)).all()


def test_plans_start_inside_the_escalation_window_or_clearly_after_it(medium):
    """A plan starts in (referral + 14 days, + 3 months] of its own referral, or,
    for the separate "late plan" process, after every possible window end."""
    cp = medium["cp_plans"].merge(medium["referrals"], on=["CINdetailsID", "LAchildID"])
    offset = (pd.to_datetime(cp["CPPstartDate"]) - pd.to_datetime(cp["CINreferralDate"])).dt.days
    assert (offset.between(15, 103) | (offset >= 107)).all()
    assert offset.between(15, 103).mean() > 0.8
    episodes = medium["episodes"]
    entries = episodes[episodes["RNE"] == "S"]
    referrals = medium["referrals"].assign(
        date=pd.to_datetime(medium["referrals"]["CINreferralDate"])
    )
    entered = pd.to_datetime(entries["DECOM"], format="%d/%m/%Y")
    for child, start in zip(entries["CHILD"], entered, strict=True):
        dates = referrals.loc[referrals["LAchildID"] == child, "date"]
        assert (start - dates[dates < start].max()).days >= 15


def test_children_are_0_to_17_at_referral(medium):
    ref = medium["referrals"].merge(medium["children"], on="LAchildID")
    age = (pd.to_datetime(ref["CINreferralDate"]) - pd.to_datetime(ref["PersonBirthDate"])).dt.days
    assert (age >= 0).all()
    assert (age / 365.25 < 18).all()
    assert (age / 365.25 >= 17).any() and (age < 365).any()


def test_notes_per_referral_sets_the_number_of_notes_not_the_records(medium):
    more = g.generate(seed=11, n_children=2000, notes_per_referral=12)
    for name in ("children", "referrals", "cp_plans", "episodes", "ground_truth"):
        assert more[name].equals(medium[name]), name
    per_referral = len(more["case_notes"]) / len(more["referrals"])
    assert 10 < per_referral < 14
    assert len(medium["case_notes"]) / len(medium["referrals"]) < 6


def test_default_notes_are_40_to_120_words_about_40_per_child(small):
    notes = small["case_notes"]
    assert 30 < len(notes) / len(small["children"]) < 50
    words = notes["NoteText"].str.split().str.len()
    assert 45 < words.mean() < 80
    assert words.quantile(0.05) >= 30 and words.quantile(0.95) <= 120


# ---------------------------------------------------------------------------
# Identifiers.
# ---------------------------------------------------------------------------
def test_nhs_numbers_have_valid_check_digits(small):
    assert g.is_valid_nhs_number("9434765919")
    assert g.is_valid_nhs_number("943 476 5919")
    assert not g.is_valid_nhs_number("9434765918")
    assert not g.is_valid_nhs_number("94347659")
    assert g.nhs_check_digit(np.array([[9, 4, 3, 4, 7, 6, 5, 9, 1]]))[0] == 9
    numbers = small["children"]["NHSNumber"]
    assert numbers.str.fullmatch(r"\d{10}").all()
    assert numbers.is_unique
    assert all(g.is_valid_nhs_number(n) for n in numbers)


def test_identifiers_are_planted_in_the_notes(small):
    notes = (
        small["case_notes"]
        .merge(small["people"], on="LAchildID")
        .merge(small["children"], on="LAchildID")
    )
    text = notes["NoteText"]

    def share(values: pd.Series) -> float:
        return float(np.mean([v in t for v, t in zip(values, text, strict=True)]))

    first_carer = notes["CarerNames"].str.split(";").str[0]
    carer_first = first_carer.str.split(" ").str[0]
    dob = pd.to_datetime(notes["PersonBirthDate"])
    assert share(notes["ChildFirstName"]) > 0.5
    assert share(notes["ChildFirstName"] + " " + notes["ChildLastName"]) > 0.05
    assert share(carer_first) > 0.3
    assert share(carer_first + "'s") > 0.01
    assert share(first_carer) > 0.01
    assert share(notes["CarerPhone"]) > 0.01
    assert share(notes["CarerEmail"]) > 0.005
    assert share(notes["Postcode"]) > 0.01
    assert share(notes["NHSNumber"]) > 0.005
    spaced = notes["NHSNumber"].str.replace(r"(\d{3})(\d{3})(\d{4})", r"\1 \2 \3", regex=True)
    assert share(spaced) > 0.01
    assert share(dob.dt.strftime("%d/%m/%Y")) > 0.01
    long_dates = [f"{d.day} {d.strftime('%B %Y')}" for d in dob]
    assert share(pd.Series(long_dates)) > 0.01
    assert share(notes["UPN"]) > 0.001
    second_carer = notes["CarerNames"].str.split(";").str[1].dropna().str.split(" ").str[0]
    with_partner = notes.loc[second_carer.index, "NoteText"]
    assert any(n in t for n, t in zip(second_carer, with_partner, strict=True))


def test_names_are_not_words_of_the_note_templates():
    sentences, _ = g.sentence_pools()
    vocabulary = {w.lower() for s in sentences for w in re.findall(r"[A-Za-z]+", s)}
    names = {n for group in g.NAMES for part in group for n in part.split()}
    assert len(names) > 900
    parts = {p.lower() for n in names for p in re.split(r"['-]", n)}
    assert not parts & vocabulary


# ---------------------------------------------------------------------------
# Outcomes: base rates, agreement with ground truth, planted signal.
# ---------------------------------------------------------------------------
def test_base_rates_are_in_the_target_ranges(medium):
    ref = labelled_referrals(medium)
    assert 0.25 <= ref["nfa"].mean() <= 0.34
    nfa = ref[ref["nfa"] & ref["nfa_observed"]]
    assert 0.15 <= nfa["nfa_label"].mean() <= 0.28
    escalation = ref[ref["escalation_observed"] & ~ref["already_escalated"]]
    assert 0.05 <= escalation["escalation_label"].mean() <= 0.10
    per_child = ref.groupby("LAchildID").size()
    assert 0.5 < (per_child == 1).mean() < 0.8
    assert per_child.max() >= 5


def test_labels_match_the_ground_truth_probabilities(large):
    ref = large
    assert not ref["already_escalated"].any()
    assert (ref["nfa_label"] == ref["nfa_label_from_point"]).all()
    assert ref["p_nfa_rereferral"].between(0, 1).all()
    assert (ref.loc[ref["nfa"], "escalation_label"] == 0).all()
    assert (ref.loc[ref["nfa"], "p_escalation"] == 0).all()
    for label, p, observed in (
        ("nfa_label", "p_nfa_rereferral", "nfa_observed"),
        ("escalation_label", "p_escalation", "escalation_observed"),
    ):
        rows = ref[ref[observed]]
        # Siblings referred together share their draws: cluster the errors by
        # family and referral date.
        residual = (rows[label] - rows[p]).groupby([rows["FamilyID"], rows["date"]]).sum()
        se = np.sqrt((residual**2).sum()) / len(rows)
        assert abs(rows[label].mean() - rows[p].mean()) < 3 * se, label
        low, high = rows[p] < rows[p].median(), rows[p] >= rows[p].quantile(0.9)
        assert rows.loc[high, label].mean() > 5 * rows.loc[low, label].mean(), label


def test_ground_truth_ranks_outcomes_well_above_their_base_rates(large):
    nfa = large[large["nfa_observed"]]
    escalation = large[large["escalation_observed"]]
    nfa_ap = average_precision_score(nfa["nfa_label"], nfa["p_nfa_rereferral"])
    escalation_ap = average_precision_score(
        escalation["escalation_label"], escalation["p_escalation"]
    )
    assert nfa_ap > 2.5 * nfa["nfa_label"].mean()
    assert 0.4 <= escalation_ap <= 0.75


def test_note_wording_carries_the_text_risk(small):
    """Concern wording around a referral rises with the event's latent text risk,
    which is independent of the family's risk."""
    concern = {s.split("{")[0].strip() for pool in g.CONCERN.values() for s in pool}
    concern = [c for c in concern if len(c) > 12]
    protective = [s.split("{")[0].strip() for s in g.PROTECTIVE if len(s.split("{")[0]) > 12]
    notes = small["case_notes"]
    contact = notes[notes["DocumentType"] == "Contact and referral form"]
    n_concern = contact["NoteText"].map(lambda t: sum(c in t for c in concern))
    n_protective = contact["NoteText"].map(lambda t: sum(p in t for p in protective))
    share = n_concern / (n_concern + n_protective).clip(lower=1)
    assert 0.2 < share.mean() < 0.8
    assert share.std() > 0.2


def test_cli_writes_the_exports(tmp_path):
    g.cli(["--seed", "2", "--children", "40", "--notes-per-referral", "5", "--out", str(tmp_path)])
    for name in EXPECTED_COLUMNS:
        assert (tmp_path / name).stat().st_size > 0, name
    assert len(read(tmp_path, "children.csv")) == 40


def test_rejects_an_empty_la():
    with pytest.raises(ValueError, match="n_children"):
        g.generate(seed=1, n_children=0)
