"""Generate the raw exports of one synthetic English local authority (LA).

The generator writes, from a seed and a number of children, the files an LA
would export from its children's social care systems: children and people
(names, for redaction only), CIN census-shaped referrals, assessments,
section 47 enquiries and child protection plans, SSDA903-shaped care episodes,
free-text case notes, and ``ground_truth.csv`` (the true probability of each
outcome for each referral, which the workflow never reads). Everything is fake:
names, numbers and notes are drawn at random from embedded lists.

Generating process, in brief:

- Families of one to four children share a family id, surname, carers,
  postcode and a latent ``family_risk`` (standard normal). A family's risk
  raises the chance of each family issue (domestic abuse, substance misuse,
  mental health, neglect, physical or emotional abuse, adolescent risk), which
  shows in assessment factors, primary need, referral source, how often the
  family is referred again and, through earlier outcomes, plans and care.
- Referrals come in family events: on one date some or all of a family's
  children aged 0-17 are referred. Each event has its own latent ``text_risk``
  (standard normal), independent of everything structured; it shifts every
  decision and outcome of the event and sets how much of the notes' wording
  around the referral is concern rather than protective wording.
- Each event is decided in this order, each step a Bernoulli draw from a
  logistic model of the latents, the referral's codes and the child's history:
  no further action (NFA) at referral; for other referrals, a section 47
  enquiry starting in the first 12 days; escalation (a child protection plan or
  a care episode starting in the window (referral + 14 days, + 3 months]);
  after an NFA closure, re-referral within 12 months of the closure and of
  the day after the referral (so both ways of dating the horizon agree).
- Consecutive referrals of a child are at least 93 days apart and never start
  before the previous one is closed, and every plan or care episode starts in
  the escalation window of its own referral or, for a small documented share of
  other assessed referrals ("late plans"), after that window but before the
  closure. So each label as the workflow computes it (NFA and re-referred within
  12 months, of the closure or of the prediction point; escalation event in the
  window) is exactly the outcome drawn, and ``ground_truth.csv`` holds its
  probability:

  - ``p_nfa_rereferral`` = P(NFA) x P(re-referral | NFA) x the share of the
    re-referral dates at which the child is still under the age limit, all at
    the referral date;
  - ``p_escalation`` = P(escalation) given the latents, the referral's codes,
    the child's history, the NFA decision and whether a section 47 enquiry
    started (both decided before the escalation prediction point, referral +
    14 days); 0 for NFA referrals.

Case notes are generated from sentence templates: a contact form the day before
or the day of each referral, further notes in the next two weeks, assessment,
strategy discussion, conference and closure notes, and visit notes over the
life of the case, so that ``n_children = 50_000`` gives about two million notes.
Notes carry planted identifiers (names, possessives, dates of birth, NHS
numbers, phone numbers, e-mails, postcodes, UPNs) for testing redaction.

All randomness comes from ``np.random.default_rng(seed)`` (the notes from a
stream spawned from it), so the same seed and size give byte-identical files.
"""

import argparse
import logging
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------
# Output files and their columns (in this order).
# ---------------------------------------------------------------------------
FILES: dict[str, str] = {
    "children": "children.csv",
    "people": "people.csv",
    "referrals": "referrals.csv",
    "assessments": "assessments.csv",
    "section47": "section47.csv",
    "cp_plans": "cp_plans.csv",
    "episodes": "episodes.csv",
    "case_notes": "case_notes.csv",
    "ground_truth": "ground_truth.csv",
}
COLUMNS: dict[str, list[str]] = {
    "children": [
        "LAchildID",
        "UPN",
        "FamilyID",
        "Sex",
        "PersonBirthDate",
        "Ethnicity",
        "Disabilities",
        "NHSNumber",
        "Postcode",
    ],
    "people": [
        "LAchildID",
        "ChildFirstName",
        "ChildLastName",
        "CarerNames",
        "CarerPhone",
        "CarerEmail",
    ],
    "referrals": [
        "LAchildID",
        "CINdetailsID",
        "CINreferralDate",
        "ReferralSource",
        "PrimaryNeedCode",
        "ReferralNFA",
        "CINclosureDate",
        "ReasonForClosure",
    ],
    "assessments": [
        "LAchildID",
        "CINdetailsID",
        "AssessmentID",
        "AssessmentActualStartDate",
        "AssessmentAuthorisationDate",
        "AssessmentFactors",
    ],
    "section47": ["LAchildID", "CINdetailsID", "S47ActualStartDate", "DateOfInitialCPC"],
    "cp_plans": [
        "LAchildID",
        "CINdetailsID",
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
    ],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC", "REC"],
    "case_notes": ["NoteID", "LAchildID", "NoteDateTime", "DocumentType", "NoteText"],
    "ground_truth": [
        "CINdetailsID",
        "LAchildID",
        "family_risk",
        "p_nfa_rereferral",
        "p_escalation",
    ],
}

# ---------------------------------------------------------------------------
# Process constants.
# ---------------------------------------------------------------------------
MISSING = -(10**9)  # day number of a missing date
MAX_SIBLINGS = 4
FAMILY_SIZE_P = np.array([0.38, 0.32, 0.19, 0.11])
AGE_LIMIT_DAYS = 6538  # 17.9 years: children are referred only below this age
ADULT_DAYS = 6574  # 18 years: plans and care end by then
MIN_GAP_DAYS = 93  # between a child's referral dates: windows never overlap
WINDOW_FIRST, WINDOW_LAST = 15, 103  # escalation events: referral + 15..103 days
LATE_FIRST = 107  # "late plans" start after every possible window end
P_INCLUDE = 0.8  # chance that an eligible sibling is part of a family event
DEFAULT_NOTES_PER_REFERRAL = 26.0

THEMES = ["dv", "substance", "mental_health", "neglect", "physical", "adolescent", "emotional"]
THEME_INTERCEPT = np.array([-0.7, -1.3, -0.9, -1.2, -2.3, -1.6, -2.0])
THEME_FACTORS: dict[str, list[str]] = {
    "dv": ["3B", "3C"],
    "substance": ["2B", "1B"],
    "mental_health": ["4B"],
    "neglect": ["16A"],
    "physical": ["18B", "18C"],
    "adolescent": ["10A", "11A", "14A", "15A", "24A", "1A", "2A", "13A"],
    "emotional": ["17A"],
}
NOISE_FACTORS = ["5B", "6A", "6B", "20", "7A", "4A", "5A", "23A"]

ETHNICITIES = np.array(
    [
        "WBRI",
        "WIRI",
        "WOTH",
        "WIRT",
        "WROM",
        "MWBC",
        "MWBA",
        "MWAS",
        "MOTH",
        "AIND",
        "APKN",
        "ABAN",
        "AOTH",
        "BCRB",
        "BAFR",
        "BOTH",
        "CHNE",
        "OOTH",
        "REFU",
        "NOBT",
    ]
)
ETHNICITY_P = np.array(
    [0.700, 0.004, 0.050, 0.002, 0.005, 0.020, 0.008, 0.012, 0.016, 0.025, 0.040, 0.014,
     0.012, 0.010, 0.035, 0.008, 0.004, 0.020, 0.005, 0.010]
)  # fmt: skip
# Name group of each ethnicity (0 British/Irish, 1 South Asian, 2 Black,
# 3 Eastern European, 4 East Asian, 5 Middle Eastern/other).
ETHNICITY_GROUP = np.array([0, 0, 3, 0, 3, 0, 2, 1, 0, 1, 1, 1, 1, 2, 2, 2, 4, 5, 0, 0])
DISABILITIES = np.array(
    ["MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA"]
)
DISABILITY_P = np.array([0.06, 0.04, 0.04, 0.03, 0.14, 0.15, 0.04, 0.03, 0.12, 0.10, 0.20, 0.05])

SOURCES = np.array(
    ["1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "5A", "5B",
     "5C", "5D", "6", "7", "8", "9", "10"]
)  # fmt: skip
SOURCE_BASE = np.array(
    [0.03, 0.02, 0.03, 0.01, 0.10, 0.02, 0.04, 0.01, 0.01, 0.02, 0.04, 0.05, 0.03, 0.05,
     0.03, 0.02, 0.04, 0.20, 0.02, 0.04, 0.02, 0.01]
)  # fmt: skip
# Wording group of each source in the contact form's opening sentence.
SOURCE_GROUP = np.array([0, 0, 1, 0, 2, 2, 3, 3, 3, 3, 4, 3, 5, 6, 6, 6, 6, 7, 8, 8, 9, 8])
SOURCE_NFA = np.array(
    [0.3, 0.3, 0.2, 0.3, -0.4, -0.2, -0.3, -0.5, -0.3, -0.3, -0.4, -0.4, 0.1, -0.2, 0.0,
     0.0, -0.3, 0.7, 0.2, 0.3, 0.8, 0.3]
)  # fmt: skip
NEEDS = np.array(["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9", "N0"])
NEED_BASE = np.array([0.0, 0.03, 0.08, 0.18, 0.10, 0.08, 0.03, 0.06, 0.06, 0.03])
CATEGORIES = np.array(["NEG", "PHY", "SAB", "EMO", "MUL"])

LOGIT = {
    # NFA at referral
    "nfa": {"intercept": -0.5, "family": -0.4, "text": -0.25, "n1": -1.3, "infant": -0.8},
    # section 47 enquiry (assessed referrals)
    "s47": {"intercept": -1.9, "family": 0.8, "text": 0.8, "n1": 0.9, "police": 0.4, "phy": 0.8},
    # escalation (assessed referrals)
    "esc": {
        "intercept": -4.6,
        "family": 0.9,
        "text": 1.3,
        "s47": 1.9,
        "infant": 0.7,
        "previous_cpp": 0.5,
        "sixteen": -0.6,
    },
    # re-referral within 12 months of an NFA closure
    "rereferral": {"intercept": -2.3, "family": 0.9, "text": 2.4, "police": 1.0, "history": 0.4},
}

# Care episode endings (SSDA903 REC) and the CIN closure reason each implies.
CARE_OUTCOMES = ["E4A", "E4B", "E41", "E45", "E47", "E8", "E13", "E3", "E17", "E11"]
CARE_OUTCOME_P = np.array([0.50, 0.10, 0.07, 0.06, 0.05, 0.09, 0.06, 0.07, 0.0, 0.0])
CARE_CLOSURE_REASON = {
    "E4A": "RC7",
    "E4B": "RC7",
    "E41": "RC3",
    "E45": "RC4",
    "E47": "RC4",
    "E8": "RC7",
    "E13": "RC7",
    "E3": "RC5",
    "E17": "RC6",
    "E11": "RC1",
}
NEED_TO_903 = ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N1", "N1"]
PLACEMENTS = np.array(["U4", "U5", "U6", "U1", "U3", "K2", "R1", "P1", "H5", "S1"])
PLACEMENT_P = np.array([0.30, 0.08, 0.22, 0.08, 0.10, 0.10, 0.03, 0.04, 0.03, 0.02])

DOCUMENT_TYPES = [
    "Contact and referral form",
    "Social work assessment",
    "Strategy discussion",
    "Case note",
    "Child protection conference",
]
# Note stages: (document type, fewest sentences, most sentences, weight of the
# event's text risk, weight of family risk, intercept) of the concern share.
STAGES: dict[str, tuple[int, int, int, float, float, float]] = {
    "contact": (0, 8, 12, 2.4, 0.3, -0.1),
    "early": (3, 5, 9, 2.2, 0.3, -0.1),
    "assessment": (1, 8, 12, 2.0, 0.4, 0.0),
    "assessment_done": (1, 7, 11, 1.2, 0.5, 0.0),
    "strategy": (2, 6, 10, 1.2, 0.4, 0.8),
    "conference_plan": (4, 6, 10, 0.8, 0.4, 1.0),
    "conference": (4, 6, 10, 0.8, 0.4, 0.0),
    "nfa_closure": (3, 5, 8, 0.5, 0.3, -1.0),
    "closure": (3, 5, 8, 0.5, 0.3, -1.0),
    "cin": (3, 5, 9, 0.8, 0.5, -0.4),
    "cpp": (3, 5, 9, 0.8, 0.5, 0.5),
    "care": (3, 5, 9, 0.6, 0.4, 0.2),
}
STAGE_NAMES = list(STAGES)

# ---------------------------------------------------------------------------
# Name lists by group: (female first names, male first names, surnames).
# Names that are also common English words are left out, so that redacting
# them never removes ordinary words from notes.
# ---------------------------------------------------------------------------
NAMES: list[tuple[str, str, str]] = [
    (
        "Olivia Amelia Isla Ava Mia Isabella Sophia Lily Emily Ella Evie Freya Charlotte "
        "Florence Sienna Millie Isabelle Phoebe Matilda Elsie Harper Rosie Sophie Chloe "
        "Jessica Lucy Megan Lauren Hannah Bethany Amy Rebecca Katie Abigail Leah Caitlin "
        "Niamh Erin Eleanor Keira Kayla Tia Demi Shannon Courtney Chelsea Danielle Natalie "
        "Stacey Kelly Leanne Gemma Kirsty Samantha Nicola Emma Sarah Rachel Claire Laura "
        "Lisa Michelle Joanne Donna Tracey Julie Karen Angela Helen Louise Victoria "
        "Jennifer Amanda Kerry Hayley Charlene Jodie Zoe Melissa Stephanie Kimberley Toni "
        "Carly Kayleigh Chantelle Bethan Ffion Sian Carys Cerys Eilidh Kirsten Shona Roisin "
        "Aoife Siobhan Ciara Orla Lacey Mollie Maisie Lexi Gracie Darcey Esme Imogen Alice "
        "Elizabeth Georgia Madison Paige Abbie Ellie Nicole Rachael Sharon Deborah Wendy "
        "Lorraine Paula Jacqueline Beverley Denise Janet Susan Linda Margaret Catherine "
        "Jane Kate Jemma Aimee Jenna Leigh Marie Carla Lyndsey Rhiannon Tegan Elin Jolene "
        "Shauna Tamsin Rowena Harriet Annabel Lydia Naomi Ruth Kathryn Vicky Becky Kimberly",
        "Oliver George Harry Noah Jack Leo Arthur Oscar Charlie Jacob Thomas Henry Freddie "
        "Alfie Theo William Archie Joshua Alexander James Isaac Edward Lucas Tommy Finley "
        "Logan Ethan Teddy Benjamin Arlo Joseph Sebastian Harrison Elijah Adam Daniel Samuel "
        "Louie Reggie Hugo Albie Rory Jaxon Dylan Riley Jenson Ronnie Toby Frankie Elliot "
        "Jake Luca Louis Ryan Liam Connor Callum Kieran Jordan Bradley Lewis Nathan Jamie "
        "Aaron Kyle Reece Declan Owen Rhys Dafydd Gethin Iwan Euan Fraser Hamish Cillian "
        "Oisin Padraig Sean Ciaran Darragh David Paul Andrew Richard Christopher Michael "
        "Stephen Matthew Anthony Gary Darren Lee Craig Wayne Carl Shane Scott Jason Neil "
        "Kevin Simon Ian Stuart Martin Graham Robert Peter Steven Jonathan Philip Russell "
        "Gareth Barry Terry Tony Dale Ricky Lloyd Kenneth Keith Trevor Colin Derek Gavin "
        "Ashley Mitchell Harvey Kian Tyler Brandon Jayden Kai Alistair Duncan Ewan Lachlan "
        "Morgan Niall Conor Aidan Brendan Damian Jeremy Nigel Roger Malcolm Clive Leighton",
        "Smith Jones Williams Taylor Davies Evans Thomas Johnson Roberts Robinson Thompson "
        "Wright Wilson Lewis Harris Jackson Clarke Edwards Hughes Murphy Kelly O'Brien "
        "O'Connor O'Neill McCarthy Doyle Byrne Ryan Walsh Quinn McDonald MacDonald Campbell "
        "Stewart Anderson Murray Reid Ross Paterson Fraser Morrison Hamilton Graham Kerr "
        "Johnston Watson Henderson Mitchell Cameron Craig Duncan Ferguson Morgan Griffiths "
        "Owen Rees Jenkins Lloyd Powell Phillips Morris Pritchard Bevan Howells Vaughan "
        "Allen Scott Adams Chapman Collins Davis Dixon Ellis Gibson Harrison Holmes Hudson "
        "Kennedy Matthews Moore Pearson Richards Richardson Russell Saunders Shaw Simpson "
        "Spencer Stevens Webb Atkinson Bennett Bradley Burton Clayton Dawson Dennis "
        "Fleming Gallagher Gardiner Gilbert Goodwin Gordon Hayes Higgins Horton Howard "
        "Hutchinson Jarvis Jennings Lawrence Lawson Lowe McLean Middleton Newton "
        "Nicholson Norris Osborne Payne Pearce Perkins Pollard Preston Reynolds Riley "
        "Robertson Rogers Rowe Sutton Sweeney Thornton Townsend Wallace Walters Warren "
        "Whitehead Wilkinson Willis Yates Atherton Bailey Barnes Bolton Bradshaw Briggs "
        "Buckley Burgess Cartwright Chadwick Coates Cunningham Dodd Donnelly Farrell "
        "Fitzgerald Flynn Forsyth Gough Hargreaves Hewitt Hodgson Ingram Keane Kirby Lambert "
        "Maguire Maxwell McGregor Metcalfe Moran Nolan Oakley O'Sullivan Quigley Ramsey "
        "Rhodes Sheridan Slater Stafford Steele Talbot Tomlinson Wainwright Whittaker "
        "Doherty Smith-Jones Lewis-Evans McKenzie Samuels Ashworth Crossley "
        "Entwistle Greenwood Haworth Holroyd Lister Ackroyd Sutcliffe Butterworth Pickles",
    ),
    (
        "Aisha Maryam Fatima Zainab Hafsa Khadija Amira Layla Nadia Sana Ayesha Imaan Priya "
        "Anjali Simran Harleen Amna Zara Safa Hiba Mariam Noor Iqra Aleena Anaya Inaya Haniya "
        "Sumaya Samina Shazia Nasreen Rukhsana Parveen Tahira Shabana Farzana Yasmin Rubina "
        "Nazia Sabrina Kiran Neha Pooja Sunita Manjit Jaspreet Navdeep Rupinder Deepa Meera "
        "Shilpa",
        "Muhammad Mohammed Ibrahim Yusuf Zain Ayaan Rayyan Ali Omar Hassan Hussain Imran Asif "
        "Tariq Arjun Rohan Aarav Vikram Harjit Hamza Bilal Usman Zakariya Ismail Adnan Faisal "
        "Kamran Nadeem Shahid Sajid Zubair Waqas Irfan Amir Ravi Sanjay Rajesh Sunil Amarjit "
        "Jaswinder Kuldeep Harpreet Rahul Nikhil Aryan",
        "Patel Khan Ahmed Hussain Ali Begum Singh Kaur Shah Mahmood Iqbal Akhtar Rahman "
        "Uddin Miah Chowdhury Sharma Kumar Gill Sandhu Sidhu Dhillon Bains Mistry Parmar "
        "Chauhan Solanki Qureshi Siddiqui Malik Aslam Hussein Bibi Javed Rashid Saleem "
        "Anwar Mirza Sheikh Bhatti Choudhry Nawaz Kapoor Joshi Desai Mehta",
    ),
    (
        "Abena Ama Adwoa Chioma Ngozi Funmilayo Folake Tiana Shanice Keisha Aaliyah Nia Imani "
        "Hodan Ayan Hibo Sagal Fartun Amara Zawadi Adaeze Chiamaka Ifeoma Nneka Temitope "
        "Yewande Bukola Abimbola Akosua Efua Esi Kemi Tolani Marcia Sonia Janelle Kadeisha "
        "Tanisha Latoya Monique Shereen",
        "Kwame Kofi Kwabena Chukwuemeka Emeka Tunde Femi Segun Abdi Mahad Abdirahman Tyrone "
        "Jerome Marcus Malachi Jermaine Kareem Delroy Winston Leon Andre Dwayne Tobi Chidi "
        "Obinna Nnamdi Ikenna Kelechi Olamide Ayodele Yaw Kojo Kweku Abdullahi Mohamud Hamse "
        "Liban Sharmarke",
        "Okafor Okonkwo Adeyemi Adebayo Oluwole Mensah Owusu Boateng Asante Osei Appiah Adjei "
        "Mohamed Abdullahi Warsame Farah Jama Egwu Nwosu Obi Eze Ogunleye Bello Afolabi "
        "Amankwah Agyeman Danso Ofori Frimpong Campbell Francis Samuels Bailey Gordon "
        "McKenzie Thompson Williams Clarke Edwards",
    ),
    (
        "Agnieszka Katarzyna Magdalena Joanna Anna Marta Natalia Aleksandra Zuzanna Julia "
        "Ioana Andreea Elena Alina Oliwia Wiktoria Maja Zofia Hanna Lena Kinga Dominika "
        "Paulina Ewelina Monika Justyna Beata Dorota Renata Gabriela Bianca Denisa Roxana "
        "Cristina Mihaela Simona Daria Irina Svetlana Olga Ilona Jurgita Ruta Ieva Kristina "
        "Milena",
        "Jakub Kacper Szymon Mateusz Piotr Tomasz Krzysztof Marek Andrei Ionut Mihai Bogdan "
        "Florin Darius Emil Luka Matei Filip Bartosz Kamil Dawid Wojciech Pawel Lukasz "
        "Michal Marcin Adrian Nikola Alexandru Stefan Gheorghe Vasile Catalin Cosmin Dmitri "
        "Sergei Mantas Tomas Lukas Aurimas Oskar Antoni Igor",
        "Nowak Kowalski Kowalska Wisniewski Wojcik Kaminski Lewandowski Zielinski Szymanski "
        "Dabrowski Kozlowski Mazur Popescu Ionescu Dumitru Stanciu Constantin Radu Munteanu "
        "Moldovan Balan Kazlauskas Petrauskas Jankauskas Horvath Novak Kovacs Szabo Nagy "
        "Wozniak Jankowski Krawczyk Grabowski Pawlak Michalski Zajac Wieczorek Jablonski "
        "Majewski Olszewski",
    ),
    (
        "Mei Xin Jing Hui Ling Xiaoyu Yuki Linh Huong Ngoc Lan Hoa Zhen Qian Ying Fang Jia Xiu Yan",
        "Wei Jun Hao Ming Jian Lei Tao Yong Hieu Minh Duc Tuan Quang Zhi Hong Kenji Hiroshi "
        "Jin Cheng",
        "Chen Wang Zhang Liu Wong Yang Huang Zhao Zhou Lin Lam Cheung Chan Nguyen Tran Pham "
        "Hoang Yip Tang Leung Lau Kwok Cheng Tanaka Sato",
    ),
    (
        "Elif Zeynep Leyla Dalia Rania Noura Huda Salma Rana Amal Shirin Parisa Fatma Esra "
        "Merve Ayse Hana Lina Rima Reem Samira Nour Sara Dana Mina",
        "Mehmet Emre Yasin Ahmet Mustafa Murat Kerem Burak Karim Khalid Tarek Samir Walid "
        "Ziad Rami Nabil Hamid Reza Dara Kawa Soran Rebin",
        "Yilmaz Kaya Demir Sahin Celik Yildiz Aydin Ozturk Arslan Dogan Haddad Khalil Mansour "
        "Nasser Saleh Karimi Hosseini Ahmadi Rahimi Rezaei Mohammadi Abdullah Aziz Hamdan "
        "Jaber Najjar Sulaiman",
    ),
]
POSTCODE_AREAS = ["LS", "BD", "WF", "HX", "HD"]
POSTCODE_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
UPN_LETTERS = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"))
EMAIL_DOMAINS = np.array(["example.com", "example.org", "example.net", "mail.example"])
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

# ---------------------------------------------------------------------------
# Sentence templates. Placeholders are filled per child: {child}, {child_full},
# {carer1}, {carer1_full}, {partner}, {carers}, {dob}, {dob_long}, {nhs},
# {nhs_spaced}, {phone}, {email}, {postcode}, {upn}.
# ---------------------------------------------------------------------------
CONTACT_OPENERS: list[list[str]] = [
    [  # 0 family, friends, other individuals
        "A relative contacted the front door with worries about {child}.",
        "A family friend rang the front door, worried about {child_full}.",
        "Contact received from a neighbour about the care of {child}.",
    ],
    [  # 1 self
        "{carer1} contacted the front door asking for help with {child}.",
        "Self referral: {carer1} phoned to say the family is struggling.",
    ],
    [  # 2 education
        "Contact received from {child}'s school.",
        "The designated safeguarding lead at {child}'s school made contact.",
        "Education welfare officer contacted the front door about {child}.",
    ],
    [  # 3 health
        "Referral received from the health visitor about {child}.",
        "Contact from the GP surgery regarding {child_full}.",
        "The school nurse contacted the front door about {child}.",
        "Midwife made contact regarding the family.",
    ],
    [  # 4 emergency department
        "Contact from the hospital emergency department after {child} was brought in.",
        "A&E liaison nurse contacted the front door about {child}.",
    ],
    [  # 5 housing
        "Housing officer contacted the service about the family's home.",
        "Contact from the housing association about conditions at the property.",
    ],
    [  # 6 local authority services
        "Contact from the early help team about {child_full}.",
        "The family support worker made contact about {child}.",
        "Contact received from another local authority team about {child}.",
    ],
    [  # 7 police
        "Police notification received regarding {child_full}.",
        "Contact from police following an incident at the family home.",
        "Police made contact after attending the address overnight.",
    ],
    [  # 8 other agencies
        "Contact received from another agency regarding {child_full}.",
        "Probation made contact about a member of the household.",
        "A voluntary sector worker contacted the front door about {child}.",
    ],
    [  # 9 anonymous
        "An anonymous caller raised concerns about the children at the address.",
        "Anonymous contact received about {child}'s care.",
    ],
]
STAGE_OPENERS: dict[str, list[str]] = {
    "early": [
        "Telephone call with {carer1}.",
        "Home visit.",
        "Call to the school for information.",
        "Case note following checks with partner agencies.",
        "Management oversight recorded.",
    ],
    "assessment": [
        "Assessment visit to {child} and family.",
        "Single assessment started; {child} seen at home.",
        "Assessment home visit completed with {carer1}.",
    ],
    "assessment_done": [
        "Assessment completed and authorised by the team manager.",
        "Assessment summary and analysis recorded.",
    ],
    "strategy": [
        "Strategy discussion held with police and health; enquiries agreed.",
        "Strategy meeting held; it was agreed that threshold for enquiries was met.",
    ],
    "conference_plan": [
        "Initial conference held; {child} is now subject to a protection plan.",
        "Conference decided that {child} will be subject to a plan.",
    ],
    "conference": [
        "Initial conference held; a plan was not needed and support will continue.",
        "Conference agreed that the threshold for a plan was not met.",
    ],
    "nfa_closure": [
        "Decision: no further action; advice and signposting given to {carer1}.",
        "Closed at the front door with no further action.",
        "Outcome recorded as no further action; information shared with universal services.",
    ],
    "closure": [
        "Case closed following review.",
        "Case closed; the family will be supported by universal services.",
        "Stepped down to early help and closed.",
        "Case closure summary recorded.",
    ],
    "cin": [
        "Child in need visit completed.",
        "Review meeting held with the family and agencies.",
        "Home visit; {child} seen alone.",
        "Telephone update from {carer1}.",
    ],
    "cpp": [
        "Core group meeting held to review the plan.",
        "Statutory visit completed under the plan; {child} seen alone.",
        "Review conference held; the plan continues.",
        "Unannounced visit completed.",
    ],
    "care": [
        "{child} remains in placement and is settling.",
        "Looked after review held; care plan confirmed.",
        "Contact between {child} and {carer1} was supervised at the family centre.",
        "Placement visit completed; {child} seen alone.",
    ],
}
CONCERN: dict[str, list[str]] = {
    "dv": [
        "Police were called to the home after neighbours reported shouting and screaming.",
        "{carer1} disclosed domestic abuse by {partner} and said she felt frightened.",
        "Police attended a domestic incident at the address; {child} was present.",
        "{partner} threatened {carer1} in front of the children.",
        "There is a history of domestic abuse and police have been called several times.",
        "{child} told a teacher that there is a lot of fighting at home.",
        "A risk assessment for domestic abuse was completed and scored high.",
        "{carer1} had visible injuries and declined to support a prosecution.",
        "Reports of controlling behaviour and threats from {partner}.",
        "Broken furniture and a damaged door were seen at the home.",
        "Referral made to the domestic abuse risk conference after the latest incident.",
        "{carer1}'s ex-partner continues to turn up at the house despite a court order.",
    ],
    "substance": [
        "{carer1} appeared intoxicated during the visit and was slurring words.",
        "Drug paraphernalia was found within reach of the children.",
        "Concerns that {carer1} is using cannabis daily while caring for {child}.",
        "Police found {partner} under the influence of alcohol while caring for the children.",
        "Empty alcohol bottles were seen throughout the kitchen.",
        "{carer1} admitted relapsing and has missed appointments with the drug service.",
        "The school reported that {carer1} smelled of alcohol at pick-up.",
        "Substance misuse is affecting the parents' ability to supervise the children.",
        "{partner} was intoxicated and aggressive when the worker arrived.",
    ],
    "mental_health": [
        "{carer1}'s mental health has deteriorated and she reports feeling hopeless.",
        "{carer1} has stopped taking prescribed medication and is not sleeping.",
        "Crisis team involved after {carer1} expressed thoughts of suicide.",
        "{carer1} was tearful and said she cannot cope with the children's needs.",
        "The GP reports low mood and anxiety; {carer1} has missed mental health appointments.",
        "Concerns that {carer1}'s paranoia is affecting the children's routines.",
        "{carer1} has not left the house for weeks and the children are missing school.",
    ],
    "neglect": [
        "Home conditions poor: dirty dishes, dog mess on the floor and a strong smell.",
        "No food in the house at the time of the visit.",
        "{child} arrived at school hungry and in unwashed clothes.",
        "Missed health appointments; immunisations are overdue.",
        "{child} has untreated head lice and dental decay.",
        "The children were left unsupervised late at night.",
        "There was no working heating or hot water in the property.",
        "Non-attendance at school is persistent and attendance is very low.",
        "The children's bedroom was unsafe, with no bedding and broken glass on the floor.",
        "{child} was found wandering in the street without an adult.",
    ],
    "physical": [
        "Bruising was noted on {child}'s upper arm and the explanation was inconsistent.",
        "Unexplained injury to {child}'s face reported by the nursery.",
        "{child} said that {partner} hit them with a belt.",
        "A medical was requested after marks were seen on {child}'s back.",
        "{child} flinched when an adult raised a hand.",
        "Fingertip bruising seen on {child}'s legs.",
        "{child} had a burn on the hand and gave different accounts of how it happened.",
    ],
    "adolescent": [
        "{child} has been reported missing from home three times this month.",
        "{child} disclosed self-harm to the school nurse.",
        "Concerns that {child} is being exploited by older males.",
        "{child} was found in possession of cash and a second phone.",
        "{child} has been excluded from school after a violent outburst.",
        "Police returned {child} home in the early hours; {child} was intoxicated.",
        "{child} is not attending school and spends nights away from home.",
        "{child} threatened staff and damaged property.",
        "{child} has been seen with young people linked to county lines.",
    ],
    "emotional": [
        "{carer1} was heard shouting and swearing at {child}.",
        "{child} appeared withdrawn and anxious around {carer1}.",
        '{carer1} described {child} as "a nightmare" and said they would be better off apart.',
        "{child} is frequently blamed and belittled at home.",
        "{child} said nobody at home listens to them.",
    ],
    "general": [
        "The family disengaged and did not answer the door at the planned visit.",
        "{carer1} refused to allow the worker to see {child} alone.",
        "Missed appointments with health and school.",
        "{carer1} was hostile and threatened to make a complaint.",
        "Previous concerns have not improved despite support.",
        "The family has moved address several times this year.",
        "Agencies report escalating concerns and poor engagement.",
        "{carer1} did not attend the planned meeting and gave no reason.",
        "There are concerns about who is living in the household.",
        "Worries about {child}'s presentation have been raised by several professionals.",
        "{carer1} minimised the concerns and said the school was exaggerating.",
        "{child} was not brought to the last two health appointments.",
    ],
}
PROTECTIVE = [
    "{carer1} engaged well with the worker and was open about the difficulties.",
    "A supportive grandparent lives nearby and helps with childcare.",
    "{child} has good school attendance and is making progress.",
    "Warm interaction observed between {carer1} and {child}.",
    "The family attended all appointments.",
    "Home clean and tidy, with food in the cupboards.",
    "{carer1} has accepted a place on a parenting course.",
    "{child} said they feel safe at home.",
    "{carer1} responded quickly to the concerns and sought help from the GP.",
    "{child} is meeting developmental milestones.",
    "The health visitor reports no concerns about {child}'s care.",
    "The school describes {carer1} as engaged and supportive.",
    "{child}'s needs are being met and {child} presents as happy.",
    "{carer1} has ended the relationship with {partner} and has support from family.",
    "{child} enjoys football club and has positive friendships.",
    "Routines at home are consistent and boundaries are clear.",
    "{carer1} is working with the family support worker and has made changes.",
    "The children were appropriately dressed and appeared well cared for.",
    '{carer1} said: "We are managing, we just needed some advice."',
    "{carer1} attended every meeting and followed the agreed plan.",
]
NEUTRAL = [
    "Visit completed as planned.",
    "Information was shared with the school and the GP.",
    "The worker discussed the reasons for the contact with {carer1}.",
    "The case was discussed with the team manager.",
    "Consent was obtained to contact other agencies.",
    "The worker explained the process and next steps to the family.",
    "A follow-up call is planned for next week.",
    "{child} was seen and spoken to.",
    "Details of the household were confirmed, including who lives at the address.",
    "Checks were completed with health, education and police.",
    "The worker will update the chronology.",
    "The family live in a rented flat.",
    "Details were confirmed with {carer1} by phone.",
    "The worker left a calling card.",
    "Further information will be requested from the school.",
    "A letter was sent to the family explaining the contact.",
    "The worker observed {child} playing in the living room.",
    '{child} said "it is all right at home, mostly".',
    "Actions were agreed and recorded, with dates for review.",
    "The records of the family were reviewed before the visit.",
    "The worker arrived at the agreed time, and the visit lasted about an hour.",
    "Contact details for the duty team were given to {carer1}.",
]
IDENTIFIERS = [
    "Child: {child_full}, DOB {dob}, NHS number {nhs_spaced}.",
    "{child_full} was born on {dob_long}.",
    "NHS no. {nhs}.",
    "Family address postcode {postcode}.",
    "Contact number for {carer1}: {phone}.",
    "{carer1_full} can be contacted on {phone} or by email at {email}.",
    "Email from {carer1} ({email}) received and added to the file.",
    "UPN {upn} confirmed with the school.",
    "Parents/carers: {carers}.",
    "{child}'s date of birth is {dob}.",
    "Lives with {carer1_full} at an address in {postcode}.",
    "{child_full} (DOB {dob_long}, NHS {nhs_spaced}) is known to the service.",
]


# ---------------------------------------------------------------------------
# Small helpers.
# ---------------------------------------------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def day_number(date: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(date, "D").astype(np.int64))


def iso_dates(days: np.ndarray) -> np.ndarray:
    """ISO dates (YYYY-MM-DD) of day numbers; missing days give ""."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == MISSING
    text = np.datetime_as_string(np.where(missing, 0, days).astype("datetime64[D]"), unit="D")
    out = text.astype(object)
    out[missing] = ""
    return out


def uk_dates(days: np.ndarray) -> np.ndarray:
    """SSDA903 dates (dd/mm/YYYY) of day numbers; missing days give ""."""
    return np.array([f"{d[8:10]}/{d[5:7]}/{d[:4]}" if d else "" for d in iso_dates(days)], object)


def long_date(day: int) -> str:
    """A date written out, e.g. "12 March 2011"."""
    text = str(np.datetime64(int(day), "D"))
    return f"{int(text[8:10])} {MONTHS[int(text[5:7]) - 1]} {text[:4]}"


def sample_categorical(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category index per row of a (rows x categories) weight matrix."""
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), weights.shape[1] - 1)


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Identifiers such as "C0000123" from integers."""
    width = max(width, len(str(int(np.max(numbers, initial=0)))))
    return np.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], dtype=object)


def nhs_check_digit(first_nine: np.ndarray) -> np.ndarray:
    """Modulus-11 check digit of NHS numbers given their first nine digits as a
    (n, 9) array; 10 means no valid check digit exists."""
    weights = np.arange(10, 1, -1)
    check = 11 - (np.asarray(first_nine) @ weights) % 11
    return np.where(check == 11, 0, check)


def is_valid_nhs_number(number: str) -> bool:
    """Whether a 10-digit NHS number (spaces allowed) has a valid check digit."""
    digits = number.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = int(nhs_check_digit(np.array([[int(c) for c in digits[:9]]]))[0])
    return check == int(digits[9])


def make_nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct fake NHS numbers (10 digits) with valid check digits."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        m = (n - len(out)) * 2 + 10
        digits = rng.integers(0, 10, size=(m, 9))
        digits[:, 0] = rng.choice([4, 6, 7], size=m)
        check = nhs_check_digit(digits)
        for row, c in zip(digits[check < 10], check[check < 10], strict=True):
            number = "".join(map(str, row)) + str(c)
            if number not in seen and len(out) < n:
                seen.add(number)
                out.append(number)
    return np.array(out, dtype=object)


def make_upns(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct fake unique pupil numbers: a letter and 12 digits."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        m = n - len(out) + 10
        letters = rng.choice(UPN_LETTERS, size=m)
        numbers = rng.integers(0, 10**12, size=m)
        for letter, number in zip(letters, numbers, strict=True):
            upn = f"{letter}{number:012d}"
            if upn not in seen and len(out) < n:
                seen.add(upn)
                out.append(upn)
    return np.array(out, dtype=object)


def make_postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` plausible postcodes in West Yorkshire areas, e.g. "LS12 4AB"."""
    areas = rng.choice(POSTCODE_AREAS, size=n)
    districts = rng.integers(1, 30, size=n)
    sectors = rng.integers(1, 10, size=n)
    units = rng.choice(POSTCODE_LETTERS, size=(n, 2))
    return np.array(
        [
            f"{a}{d} {s}{u[0]}{u[1]}"
            for a, d, s, u in zip(areas, districts, sectors, units, strict=True)
        ],
        dtype=object,
    )


def make_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` fake UK mobile numbers written like "07700 900123"."""
    prefix = rng.integers(700, 1000, size=n)
    number = rng.integers(0, 10**6, size=n)
    return np.array([f"07{p:03d} {q:06d}" for p, q in zip(prefix, number, strict=True)], object)


def email_local(name: str) -> str:
    """An e-mail local part from a full name: lowercase letters and dots."""
    return ".".join("".join(c for c in part.lower() if c.isalpha()) for part in name.split())


def swap_letters(text: str, rng_value: float) -> str:
    """A typo: two adjacent letters of one longer word swapped."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return text
    i = candidates[int(rng_value * len(candidates)) % len(candidates)]
    word = words[i]
    j = 1 + int(rng_value * 1000) % (len(word) - 3)
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


# ---------------------------------------------------------------------------
# Families and children.
# ---------------------------------------------------------------------------
def draw_families(
    rng: np.random.Generator, n_families: int, start_day: int, end_day: int
) -> dict[str, np.ndarray]:
    """Latent risk, issues, size, birth dates and other attributes of families.

    Child attributes are (families x MAX_SIBLINGS) arrays; a slot without a
    child has birth day ``MISSING``. The first family event falls uniformly in
    [start_day, end_day]; the eldest child is 0-17 then, siblings 1.5-6 years
    younger (some born later).
    """
    risk = rng.normal(size=n_families)
    size = rng.choice(np.arange(1, MAX_SIBLINGS + 1), size=n_families, p=FAMILY_SIZE_P)
    first_day = rng.integers(start_day, end_day + 1, size=n_families)
    eldest_age = np.where(
        rng.random(n_families) < 0.85,
        rng.uniform(2.0, 17.5, n_families),
        rng.uniform(0.0, 2.0, n_families),
    )
    gaps = rng.uniform(1.5, 6.0, size=(n_families, MAX_SIBLINGS))
    gaps[:, 0] = 0.0
    birth = first_day[:, None] - ((eldest_age[:, None] - np.cumsum(gaps, axis=1)) * 365.25)
    birth = np.floor(birth).astype(np.int64)
    exists = np.arange(MAX_SIBLINGS)[None, :] < size[:, None]
    birth = np.where(exists, birth, MISSING)
    issues = rng.random((n_families, len(THEMES))) < sigmoid(
        THEME_INTERCEPT[None, :] + 1.0 * risk[:, None]
    )
    sex = np.where(rng.random((n_families, MAX_SIBLINGS)) < 0.52, "M", "F")
    ethnicity = rng.choice(len(ETHNICITIES), size=n_families, p=ETHNICITY_P / ETHNICITY_P.sum())
    disabled = rng.random((n_families, MAX_SIBLINGS)) < 0.08
    return {
        "risk": risk,
        "first_day": first_day,
        "birth": birth,
        "issues": issues,
        "sex": sex,
        "ethnicity": ethnicity,
        "disabled": disabled,
    }


def simulate_referrals(
    rng: np.random.Generator, families: dict[str, np.ndarray], end_day: int
) -> dict[str, np.ndarray]:
    """Simulate every family's referrals and their outcomes up to ``end_day``.

    Families are simulated in rounds, one family event per active family per
    round, vectorised over families. Returns one array per referral field
    (family, slot, dates as day numbers, codes, latents and true probabilities);
    only ``family`` (empty) when no family has an eligible child.
    """
    n_f = len(families["risk"])
    birth = families["birth"]
    exists = birth != MISSING
    age_out = np.where(exists, birth + AGE_LIMIT_DAYS, MISSING)
    next_day = families["first_day"].copy()
    active = np.ones(n_f, dtype=bool)
    forced = np.zeros((n_f, MAX_SIBLINGS), dtype=bool)
    previous_referrals = np.zeros((n_f, MAX_SIBLINGS), dtype=np.int64)
    previous_cpp = np.zeros((n_f, MAX_SIBLINGS), dtype=np.int64)
    rounds: list[dict[str, np.ndarray]] = []
    n_events = 0
    while True:
        active &= next_day <= end_day
        fi = np.flatnonzero(active)
        if fi.size == 0:
            break
        day = next_day[fi]
        eligible = exists[fi] & (birth[fi] < day[:, None]) & (day[:, None] < age_out[fi])
        unborn = exists[fi] & (birth[fi] >= day[:, None])
        nobody = ~eligible.any(axis=1)
        wait = nobody & unborn.any(axis=1)
        first_birth = np.where(unborn, birth[fi], np.iinfo(np.int64).max).min(axis=1)
        next_day[fi[wait]] = first_birth[wait] + rng.integers(30, 400, size=int(wait.sum()))
        active[fi[nobody & ~wait]] = False
        forced[fi[nobody]] = False
        fi, day, eligible = fi[~nobody], day[~nobody], eligible[~nobody]
        if fi.size == 0:
            continue
        result = simulate_events(
            rng,
            families,
            fi,
            day,
            eligible,
            forced[fi],
            previous_referrals[fi],
            previous_cpp[fi],
        )
        ev, slot, fam = result["event"], result["slot"], result["family"]
        previous_referrals[fam, slot] += 1
        previous_cpp[fam, slot] += result["has_cpp"]
        forced[fi] = False
        forced[fam, slot] = result.pop("forced_next")
        next_day[fi] = result.pop("next_day")
        active[fi[next_day[fi] == MISSING]] = False
        result["event"] = ev + n_events
        n_events += len(fi)
        rounds.append(result)
    if not rounds:
        return {"family": np.zeros(0, dtype=np.int64)}
    return {key: np.concatenate([r[key] for r in rounds]) for key in rounds[0]}


def uniform_days(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integer days drawn uniformly from [low, high] (element-wise, high >= low)."""
    return low + np.floor(rng.random(len(low)) * (high - low + 1)).astype(np.int64)


def simulate_events(
    rng: np.random.Generator,
    families: dict[str, np.ndarray],
    fi: np.ndarray,
    day: np.ndarray,
    eligible: np.ndarray,
    forced: np.ndarray,
    previous_referrals: np.ndarray,
    previous_cpp: np.ndarray,
) -> dict[str, np.ndarray]:
    """One family event for each family in ``fi`` on ``day``: who is referred,
    the referral's codes, decisions, outcomes, dates and the next event's date.

    ``eligible``, ``forced`` (must be referred: re-referral after NFA) and the
    history counts are (events x MAX_SIBLINGS). Returns per-referral arrays (one
    row per referred child), ``next_day`` per event (``MISSING`` when the
    family has no further event) and ``forced_next`` per referral.
    """
    n_e = len(fi)
    include = eligible & (forced | (rng.random(eligible.shape) < P_INCLUDE))
    empty = ~include.any(axis=1)
    pick = np.argmax(np.where(eligible, rng.random(eligible.shape), -1.0), axis=1)
    include[np.flatnonzero(empty), pick[empty]] = True
    ev, slot = np.nonzero(include)
    fam = fi[ev]
    n_r = len(ev)
    birth = families["birth"][fam, slot]
    age = day[ev] - birth
    adult_day = birth + ADULT_DAYS
    age_out = birth + AGE_LIMIT_DAYS
    child_previous_cpp = previous_cpp[ev, slot]
    risk = families["risk"][fi]
    issues = families["issues"][fi]
    text = rng.normal(size=n_e)

    min_age = np.full(n_e, np.inf)
    np.minimum.at(min_age, ev, age)
    max_age = np.zeros(n_e)
    np.maximum.at(max_age, ev, age)
    history = np.zeros(n_e)
    np.maximum.at(history, ev, np.minimum(previous_referrals[ev, slot], 3))
    disabled = np.zeros(n_e, dtype=bool)
    np.logical_or.at(disabled, ev, families["disabled"][fam, slot])
    infant = min_age < 365
    teen = max_age >= 11 * 365.25

    # Referral codes: primary need and source.
    need_w = np.tile(NEED_BASE, (n_e, 1))
    need_w[:, 0] = 0.45 * np.exp(1.0 * risk + 0.6 * issues[:, 3] + 0.6 * issues[:, 4])
    need_w[:, 1] += 0.5 * disabled
    need_w[:, 5] += 0.25 * (teen & issues[:, 5])
    need = sample_categorical(rng, need_w)
    source_w = np.tile(SOURCE_BASE, (n_e, 1))
    source_w[:, 17] *= np.where(issues[:, 0], 3.0, 0.8)  # police
    source_w[:, 4:6] *= np.where(max_age >= 4 * 365.25, 1.5, 0.1)[:, None]  # schools
    source_w[:, 7] *= np.where(min_age < 5 * 365.25, 8.0, 0.3)  # health visitor
    source_w[:, 10] *= np.where(issues[:, 4] | issues[:, 5], 2.0, 1.0)  # A&E
    source = sample_categorical(rng, source_w)
    n1 = need == 0
    police = source == 17

    # Decisions: NFA, section 47, escalation (per child), re-referral.
    c = LOGIT["nfa"]
    p_nfa = sigmoid(
        c["intercept"]
        + c["family"] * risk
        + c["text"] * text
        + c["n1"] * n1
        + c["infant"] * infant
        + SOURCE_NFA[source]
    )
    nfa = rng.random(n_e) < p_nfa
    c = LOGIT["s47"]
    p_s47 = sigmoid(
        c["intercept"]
        + c["family"] * risk
        + c["text"] * text
        + c["n1"] * n1
        + c["police"] * police
        + c["phy"] * issues[:, 4]
    )
    s47 = ~nfa & (rng.random(n_e) < p_s47)
    c = LOGIT["esc"]
    q = sigmoid(
        c["intercept"]
        + c["family"] * risk[ev]
        + c["text"] * text[ev]
        + c["s47"] * s47[ev]
        + c["infant"] * (age < 365)
        + c["previous_cpp"] * (child_previous_cpp > 0)
        + c["sixteen"] * (age >= 16 * 365.25)
    )
    # A child who turns 18 before the window ends is not escalated.
    q = np.where(day[ev] + WINDOW_LAST + 30 < adult_day, q, 0.0)
    u_escalation = rng.random(n_e)  # shared by siblings: they mostly escalate together
    escalated = ~nfa[ev] & (u_escalation[ev] < q)
    any_escalated = np.zeros(n_e, dtype=bool)
    np.logical_or.at(any_escalated, ev, escalated)
    c = LOGIT["rereferral"]
    p_rereferral = sigmoid(
        c["intercept"]
        + c["family"] * risk
        + c["text"] * text
        + c["police"] * police
        + c["history"] * history
    )
    rereferred = rng.random(n_e) < p_rereferral

    # Dates of the referral's steps (per event), as day numbers.
    nfa_close = day + 1 + np.minimum(27, np.floor(rng.exponential(5.0, n_e))).astype(np.int64)
    assessed = ~nfa | (rng.random(n_e) < 0.05)
    assess_start = np.where(nfa, day + 1, day + rng.integers(1, 8, n_e))
    assess_auth = np.where(
        nfa, np.maximum(nfa_close - 1, day + 1), assess_start + rng.integers(5, 46, n_e)
    )
    s47_day = np.where(s47, day + rng.integers(1, 13, n_e), MISSING)
    # Escalation type: a plan (after the early s47, or after a later one) or care.
    u_type = rng.random(n_e)
    plan = any_escalated & np.where(s47, u_type < 0.85, u_type < 0.5)
    care = any_escalated & ~plan
    window_s47 = plan & ~s47
    late_s47_day = day + rng.integers(WINDOW_FIRST, 79, n_e)
    cpp_start = np.where(
        s47,
        uniform_days(rng, np.maximum(day + WINDOW_FIRST, s47_day + 8), day + WINDOW_LAST),
        late_s47_day + rng.integers(10, 26, n_e),
    )
    cpp_start = np.where(plan, cpp_start, MISSING)
    late_s47_day = np.where(window_s47, late_s47_day, MISSING)
    care_start = np.where(care, day + rng.integers(WINDOW_FIRST, WINDOW_LAST + 1, n_e), MISSING)
    # Late plans (a separate, rarer process): after the window, before closure.
    late = ~nfa & ~any_escalated & (rng.random(n_e) < sigmoid(-4.0 + 0.8 * risk))
    late_cpp = day + LATE_FIRST + rng.integers(0, 181, n_e)
    cpp_start = np.where(late, late_cpp, cpp_start)
    late_s47_day = np.where(late, late_cpp - rng.integers(10, 26, n_e), late_s47_day)
    icpc_no_plan = s47 & ~plan & (rng.random(n_e) < 0.3)
    icpc_day = np.where(
        plan & s47, cpp_start, np.where(icpc_no_plan, s47_day + rng.integers(10, 21, n_e), MISSING)
    )
    late_icpc_day = np.where(late | window_s47, cpp_start, MISSING)
    cpp_days = 60 + np.floor(rng.lognormal(np.log(220), 0.6, n_e)).astype(np.int64)
    cpp_to_care = (plan | late) & (rng.random(n_e) < 0.12)
    cpp_end = cpp_start + np.where(
        cpp_to_care, np.minimum(rng.integers(30, 301, n_e), cpp_days), cpp_days
    )
    care_start = np.where(cpp_to_care, cpp_end, care_start)
    care_days = 14 + np.floor(rng.lognormal(np.log(240), 1.0, n_e)).astype(np.int64)
    category = sample_categorical(
        rng,
        np.column_stack(
            [
                0.4 + 1.5 * issues[:, 3] + 0.3 * issues[:, 1],
                0.1 + 0.8 * issues[:, 4],
                np.full(n_e, 0.05),
                0.3 + 1.2 * issues[:, 0] + 0.6 * issues[:, 6],
                np.full(n_e, 0.1),
            ]
        ),
    )
    # Closure of an assessed referral without plan or care (per event).
    u_close = rng.random(n_e)
    close_offset = np.where(
        u_close < 0.45,
        rng.integers(0, 15, n_e),
        np.where(u_close < 0.70, rng.integers(0, 31, n_e), rng.integers(60, 361, n_e)),
    )
    close_reason = np.where(u_close < 0.45, "RC8", np.where(u_close < 0.70, "RC9", "RC7"))
    assessed_close = np.maximum(assess_auth + close_offset, day + 1)
    assessed_close = np.where(s47, np.maximum(assessed_close, s47_day + 21), assessed_close)
    wrap_up = rng.integers(7, 91, n_e)
    care_outcome = sample_categorical(rng, np.tile(CARE_OUTCOME_P, (n_r, 1)))
    adopted = rng.random(n_r) < 0.4

    # Per child: plans and care, closure and its reason.
    child_plan = ((plan[ev] & escalated) | late[ev]) & (cpp_start[ev] + 30 < adult_day)
    child_care = ((care[ev] & escalated) | (cpp_to_care[ev] & child_plan)) & (
        care_start[ev] < adult_day
    )
    c_cpp_start = np.where(child_plan, cpp_start[ev], MISSING)
    c_cpp_end = np.where(child_plan, np.minimum(cpp_end[ev], adult_day), MISSING)
    c_care_start = np.where(child_care, care_start[ev], MISSING)
    raw_care_end = care_start[ev] + care_days[ev]
    c_care_end = np.where(child_care, np.minimum(raw_care_end, adult_day), MISSING)
    aged_out = child_care & (raw_care_end >= adult_day)
    care_outcome = np.where(aged_out, CARE_OUTCOMES.index("E17"), care_outcome)
    young_long = child_care & ~aged_out & (age < 5 * 365) & (c_care_end - c_care_start > 365)
    care_outcome = np.where(young_long & adopted, CARE_OUTCOMES.index("E11"), care_outcome)
    has_event = child_plan | child_care
    event_end = np.maximum(c_cpp_end, c_care_end)
    closure = np.where(
        nfa[ev],
        nfa_close[ev],
        np.where(
            has_event, np.maximum(event_end + wrap_up[ev], assessed_close[ev]), assessed_close[ev]
        ),
    )
    reason = np.where(nfa[ev], "RC8", close_reason[ev]).astype(object)
    reason[has_event] = "RC7"
    care_reason = np.array([CARE_CLOSURE_REASON[o] for o in CARE_OUTCOMES], dtype=object)
    reason[child_care] = care_reason[care_outcome[child_care]]

    # True probabilities (per child).
    # A re-referral after an NFA closure falls uniformly in [lo, hi] days after
    # the closure: after the closure, MIN_GAP_DAYS after the referral, and within
    # 365 days of the day after the referral, hence within 12 months of both the
    # closure and the NFA outcome's prediction point (referral + 1 day).
    lo = np.maximum(1, day + MIN_GAP_DAYS - nfa_close)
    hi = day + 1 + 365 - nfa_close
    span = hi - lo + 1
    usable = np.clip(age_out - (nfa_close[ev] + lo[ev]), 0, span[ev])
    p_nfa_rereferral = p_nfa[ev] * p_rereferral[ev] * usable / span[ev]
    p_escalation = np.where(nfa[ev], 0.0, q)

    # Next family event: after every closure, and at least MIN_GAP_DAYS later.
    event_close = np.zeros(n_e, dtype=np.int64)
    np.maximum.at(event_close, ev, closure)
    again = rng.random(n_e) < sigmoid(-0.2 + 1.0 * risk + 0.4 * text)
    gap_rereferral = uniform_days(rng, lo, hi)
    gap_after_nfa = 367 + np.floor(rng.exponential(300.0, n_e)).astype(np.int64)
    gap_other = 1 + np.floor(rng.exponential(300.0, n_e)).astype(np.int64)
    next_day = np.where(
        nfa,
        np.where(
            rereferred,
            nfa_close + gap_rereferral,
            np.where(again, nfa_close + gap_after_nfa, MISSING),
        ),
        np.where(again, np.maximum(event_close + gap_other, day + MIN_GAP_DAYS), MISSING),
    )

    return {
        "event": ev,
        "family": fam,
        "slot": slot,
        "day": day[ev],
        "age": age,
        "source": source[ev],
        "need": need[ev],
        "nfa": nfa[ev],
        "closure": closure,
        "reason": reason,
        "family_risk": risk[ev],
        "text_risk": text[ev],
        "p_nfa_rereferral": p_nfa_rereferral,
        "p_escalation": p_escalation,
        "escalated": escalated,
        "assess_start": np.where(assessed[ev], assess_start[ev], MISSING),
        "assess_auth": np.where(assessed[ev], assess_auth[ev], MISSING),
        "s47_day": s47_day[ev],
        "icpc_day": icpc_day[ev],
        "late_s47_day": late_s47_day[ev],
        "late_icpc_day": late_icpc_day[ev],
        "cpp_start": c_cpp_start,
        "cpp_end": c_cpp_end,
        "category": category[ev],
        "care_start": c_care_start,
        "care_end": c_care_end,
        "care_outcome": care_outcome,
        "has_cpp": child_plan.astype(np.int64),
        "next_day": next_day,
        "forced_next": nfa[ev] & rereferred[ev],
        "rereferred": nfa[ev] & rereferred[ev],
    }


def simulate_population(
    rng: np.random.Generator, n_children: int, start_day: int, end_day: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Draw families and simulate their referrals until ``n_children`` children
    have been referred; keep exactly the first ``n_children`` (by family).

    Returns the families, the kept children's referrals and the kept children's
    keys (family * MAX_SIBLINGS + slot, sorted).
    """
    family_parts: list[dict[str, np.ndarray]] = []
    referral_parts: list[dict[str, np.ndarray]] = []
    n_families = n_referred = 0
    while n_referred < n_children:
        batch = max(20, int((n_children - n_referred) / 1.4) + 20)
        families = draw_families(rng, batch, start_day, end_day)
        referrals = simulate_referrals(rng, families, end_day)
        referrals["family"] = referrals["family"] + n_families
        if len(referrals["family"]) == 0:
            family_parts.append(families)
            n_families += batch
            continue
        if referral_parts:
            referrals["event"] = referrals["event"] + int(referral_parts[-1]["event"].max()) + 1
        family_parts.append(families)
        referral_parts.append(referrals)
        n_families += batch
        keys = referrals["family"] * MAX_SIBLINGS + referrals["slot"]
        n_referred += len(np.unique(keys))
    families = {k: np.concatenate([f[k] for f in family_parts]) for k in family_parts[0]}
    referrals = {k: np.concatenate([r[k] for r in referral_parts]) for k in referral_parts[0]}
    keys = referrals["family"] * MAX_SIBLINGS + referrals["slot"]
    kept = np.unique(keys)[:n_children]
    mask = np.isin(keys, kept)
    referrals = {k: v[mask] for k, v in referrals.items()}
    return families, referrals, kept


def draw_people(
    rng: np.random.Generator, ethnicity: np.ndarray, sexes: list[np.ndarray]
) -> tuple[list[dict[str, str]], list[list[str]]]:
    """Fake names and contact details of families and their children.

    ``ethnicity`` holds each family's ethnicity index and ``sexes`` each
    family's children's sexes ("M"/"F"). Returns per family a dict (surname,
    carer names, phone, e-mail, postcode) and per family its children's first
    names (siblings never share a first name).
    """
    lists = [(f.split(), m.split(), s.split()) for f, m, s in NAMES]
    n = len(ethnicity)
    group = np.where(rng.random(n) < 0.85, ETHNICITY_GROUP[ethnicity], 0)
    u = rng.random((n, 5))
    carer1_female = rng.random(n) < 0.9
    has_carer2 = rng.random(n) < 0.55
    same_surname = rng.random(n) < 0.5
    phones = make_phones(rng, n)
    postcodes = make_postcodes(rng, n)
    email_number = rng.integers(1, 100, n)
    domains = rng.choice(EMAIL_DOMAINS, n)
    child_u = rng.random((n, MAX_SIBLINGS))
    families: list[dict[str, str]] = []
    first_names: list[list[str]] = []
    for i in range(n):
        female, male, surnames = lists[group[i]]

        def pick(names: list[str], value: float) -> str:
            return names[int(value * len(names))]

        surname = pick(surnames, u[i, 0])
        first1 = pick(female if carer1_female[i] else male, u[i, 1])
        carers = [f"{first1} {surname}"]
        partner = "her ex-partner" if carer1_female[i] else "his ex-partner"
        if has_carer2[i]:
            first2 = pick(male if carer1_female[i] else female, u[i, 2])
            last2 = surname if same_surname[i] else pick(surnames, u[i, 3])
            carers.append(f"{first2} {last2}")
            partner = first2
        names: list[str] = []
        for j, sex in enumerate(sexes[i]):
            pool = male if sex == "M" else female
            k = int(child_u[i, j] * len(pool))
            while pool[k] in names or pool[k] in (first1, partner):
                k = (k + 1) % len(pool)
            names.append(pool[k])
        families.append(
            {
                "surname": surname,
                "carer1": first1,
                "carer1_full": carers[0],
                "partner": partner,
                "carers": " and ".join(carers),
                "carer_names": ";".join(carers),
                "phone": phones[i],
                "email": f"{email_local(carers[0])}{email_number[i]}@{domains[i]}",
                "postcode": postcodes[i],
            }
        )
        first_names.append(names)
    return families, first_names


def assessment_factors(rng: np.random.Generator, issues: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Semicolon-separated CIN assessment factor codes for each assessment, from
    the family's issues (adolescent issues only from age 10), with some noise;
    "21" (no factors) when none is identified."""
    codes: list[str] = []
    probabilities: list[np.ndarray] = []
    for t, theme in enumerate(THEMES):
        active = issues[:, t] & (age >= 10 * 365.25) if theme == "adolescent" else issues[:, t]
        for rank, code in enumerate(THEME_FACTORS[theme]):
            codes.append(code)
            probabilities.append(np.where(active, 0.75 if rank == 0 else 0.25, 0.02))
    for code in NOISE_FACTORS:
        codes.append(code)
        probabilities.append(np.full(len(issues), 0.04))
    order = sorted(range(len(codes)), key=lambda i: (int(codes[i].rstrip("ABCDEF")), codes[i]))
    chosen = rng.random((len(issues), len(codes))) < np.column_stack(probabilities)
    chosen = chosen[:, order]
    sorted_codes = [codes[i] for i in order]
    return np.array(
        [
            ";".join(c for c, hit in zip(sorted_codes, row, strict=True) if hit) or "21"
            for row in chosen
        ],
        dtype=object,
    )


def care_episode_rows(
    rng: np.random.Generator,
    child: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    outcome: np.ndarray,
    need: np.ndarray,
    end_day: int,
) -> pd.DataFrame:
    """SSDA903 episode rows of periods of care: a first row (RNE S), then a
    row per change of placement or legal status; the last row ends with the
    period (REC) or stays open after ``end_day``."""
    rows: list[tuple] = []
    n = len(child)
    n_changes = rng.poisson(np.minimum(3.0, (end - start) / 240.0))
    entry_ls = rng.choice(np.array(["V2", "C1", "L1", "C2"]), size=n, p=[0.45, 0.35, 0.12, 0.08])
    for i in range(n):
        length = int(end[i] - start[i])
        k = min(int(n_changes[i]), max(0, length - 1))
        changes = np.sort(rng.choice(np.arange(1, length), size=k, replace=False)) if k else []
        bounds = [int(start[i]), *(int(start[i]) + int(c) for c in changes), int(end[i])]
        ls = str(entry_ls[i])
        place = str(rng.choice(PLACEMENTS, p=PLACEMENT_P))
        if ls == "L1" and len(bounds) == 2 and length > 3:
            bounds.insert(1, int(start[i]) + int(rng.integers(1, 4)))
        cin = NEED_TO_903[int(need[i])]
        for r in range(len(bounds) - 1):
            if bounds[r] > end_day:
                break
            if r == 0:
                rne = "S"
            elif ls == "L1":
                rne, ls = "L", "C1"
            else:
                rne = str(rng.choice(["P", "T", "L", "B"], p=[0.6, 0.1, 0.2, 0.1]))
                if rne in ("L", "B"):
                    ls = {"V2": "C1", "C1": "C2", "C2": "E1" if rng.random() < 0.3 else "C2"}.get(
                        ls, "C1"
                    )
                if rne in ("P", "T", "B"):
                    place = str(rng.choice(PLACEMENTS, p=PLACEMENT_P))
            last = r == len(bounds) - 2
            dec = bounds[r + 1]
            rec = CARE_OUTCOMES[int(outcome[i])] if last else "X1"
            if dec > end_day:
                dec, rec = MISSING, ""
            rows.append((child[i], bounds[r], rne, ls, cin, place, dec, rec))
    frame = pd.DataFrame(
        rows, columns=["child", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC", "REC"]
    )
    return frame


# ---------------------------------------------------------------------------
# Case notes.
# ---------------------------------------------------------------------------
def sentence_pools() -> tuple[list[str], dict[str, tuple[int, int]]]:
    """All sentence templates in one list, and the (offset, size) of each pool."""
    sentences: list[str] = []
    pools: dict[str, tuple[int, int]] = {}

    def add(name: str, items: list[str]) -> None:
        pools[name] = (len(sentences), len(items))
        sentences.extend(items)

    for g, openers in enumerate(CONTACT_OPENERS):
        add(f"contact_{g}", openers)
    for stage, openers in STAGE_OPENERS.items():
        add(f"stage_{stage}", openers)
    add("identifiers", IDENTIFIERS)
    add("neutral", NEUTRAL)
    add("protective", PROTECTIVE)
    for theme, items in CONCERN.items():
        add(f"concern_{theme}", items)
    return sentences, pools


def plan_notes(
    rng: np.random.Generator,
    referrals: dict[str, np.ndarray],
    end_day: int,
    notes_per_referral: float,
) -> dict[str, np.ndarray]:
    """Which notes exist: per note its referral (row index), day, second of the
    day and stage. Contact forms, early notes, step notes (assessment, strategy
    discussion, conference, closure) and visit notes over the life of the case,
    whose rate is set so that the mean number of notes per referral is about
    ``notes_per_referral`` (never fewer than the other kinds give)."""
    n = len(referrals["day"])
    day = referrals["day"]
    nfa = referrals["nfa"]
    stage_code = {name: i for i, name in enumerate(STAGE_NAMES)}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(rows: np.ndarray, days: np.ndarray, stage: np.ndarray | int) -> None:
        stage = np.broadcast_to(np.asarray(stage), rows.shape)
        parts.append((rows, days, stage))

    rows = np.arange(n)
    add(rows, day - (rng.random(n) < 0.35), stage_code["contact"])
    screened = rng.random(n) < 0.5  # a screening note on the day of the referral
    add(rows[screened], day[screened], stage_code["early"])
    early_lambda = np.where(nfa, 0.6, 1.2)
    n_early = rng.poisson(early_lambda)
    early_rows = np.repeat(rows, n_early)
    early_last = np.where(nfa, np.maximum(referrals["closure"] - 1, day), day + 13)
    add(
        early_rows,
        uniform_days(rng, day[early_rows], early_last[early_rows]),
        stage_code["early"],
    )
    for column, stage in (("assess_start", "assessment"), ("assess_auth", "assessment_done")):
        has = referrals[column] != MISSING
        add(rows[has], referrals[column][has], stage_code[stage])
    for column in ("s47_day", "late_s47_day"):
        has = referrals[column] != MISSING
        add(rows[has], referrals[column][has], stage_code["strategy"])
    for column in ("icpc_day", "late_icpc_day"):
        has = referrals[column] != MISSING
        with_plan = referrals[column][has] == referrals["cpp_start"][has]
        stage = np.where(with_plan, stage_code["conference_plan"], stage_code["conference"])
        add(rows[has], referrals[column][has], stage)
    closed = referrals["closure"] <= end_day
    add(
        rows[closed],
        referrals["closure"][closed],
        np.where(nfa[closed], stage_code["nfa_closure"], stage_code["closure"]),
    )
    base = sum(len(p[0]) for p in parts) - len(early_rows) + float(early_lambda.sum())
    stop = np.where(closed, referrals["closure"], np.minimum(end_day + 1, day + 730))
    duration = np.maximum(0, stop - (day + 14))
    # Visits thin out on long cases: their number grows with the square root of
    # the case's duration, up to a year.
    weight = np.sqrt(np.minimum(duration, 365))
    rate = max(0.0, notes_per_referral * n - base) / max(1.0, float(weight.sum()))
    n_visits = rng.poisson(rate * weight)
    visit_rows = np.repeat(rows, n_visits)
    visit_days = uniform_days(rng, day[visit_rows] + 14, stop[visit_rows] - 1)
    in_care = (referrals["care_start"][visit_rows] != MISSING) & (
        visit_days >= referrals["care_start"][visit_rows]
    )
    in_plan = (referrals["cpp_start"][visit_rows] != MISSING) & (
        visit_days >= referrals["cpp_start"][visit_rows]
    )
    visit_stage = np.where(
        in_care, stage_code["care"], np.where(in_plan, stage_code["cpp"], stage_code["cin"])
    )
    add(visit_rows, visit_days, visit_stage)

    referral = np.concatenate([p[0] for p in parts])
    note_day = np.concatenate([p[1] for p in parts]).astype(np.int64)
    stage = np.concatenate([p[2] for p in parts]).astype(np.int64)
    keep = note_day <= end_day
    referral, note_day, stage = referral[keep], note_day[keep], stage[keep]
    second = rng.integers(8 * 3600, 19 * 3600, len(referral))
    return {"referral": referral, "day": note_day, "second": second, "stage": stage}


def note_texts(
    rng: np.random.Generator,
    stage: np.ndarray,
    source_group: np.ndarray,
    concern: np.ndarray,
    theme: np.ndarray,
    fields: list[dict[str, str]],
    child: np.ndarray,
) -> list[str]:
    """Note texts: an opening sentence for the note's stage (for contact forms,
    for the referral's source) then identifiers, neutral, protective and
    concern sentences. ``concern`` is each note's share of concern among risk
    sentences, ``theme`` the index in THEMES of its concern theme (-1: general
    only); placeholders are filled from ``fields[child]``. A few notes have an
    embedded line break or a typo."""
    sentences, pools = sentence_pools()
    n_templates = len(sentences)
    with_breaks = np.array([s + " " for s in sentences] + [s + "\n" for s in sentences], object)
    pool_names = list(pools)
    pool_id = {name: i for i, name in enumerate(pool_names)}
    offset = np.array([pools[p][0] for p in pool_names])
    size = np.array([pools[p][1] for p in pool_names])

    n = len(stage)
    low = np.array([STAGES[s][1] for s in STAGE_NAMES])[stage]
    high = np.array([STAGES[s][2] for s in STAGE_NAMES])[stage]
    n_sentences = uniform_days(rng, low, high)
    ends = np.cumsum(n_sentences)
    starts = ends - n_sentences
    total = int(ends[-1]) if n else 0
    note = np.repeat(np.arange(n), n_sentences)
    position = np.arange(total) - starts[note]

    contact = stage == STAGE_NAMES.index("contact")
    opener_pool = np.where(
        contact,
        source_group + pool_id["contact_0"],
        np.array([pool_id.get(f"stage_{s}", 0) for s in STAGE_NAMES])[stage],
    )
    body_stage_pool = np.array(
        [pool_id[f"stage_{s}"] if s in ("cin", "cpp", "care") else -1 for s in STAGE_NAMES]
    )[stage]
    u = rng.random((4, total))
    p_identifier = 0.07
    p_stage = np.where(body_stage_pool[note] >= 0, 0.15, 0.0)
    p_neutral = 0.22
    theme_pool = np.where(theme >= 0, theme + pool_id["concern_dv"], pool_id["concern_general"])
    concern_pool = np.where(
        (u[2] < 0.65) & (theme[note] >= 0), theme_pool[note], pool_id["concern_general"]
    )
    risk_pool = np.where(u[1] < concern[note], concern_pool, pool_id["protective"])
    pool = np.where(
        u[0] < p_identifier,
        pool_id["identifiers"],
        np.where(
            u[0] < p_identifier + p_stage,
            np.maximum(body_stage_pool[note], 0),
            np.where(u[0] < p_identifier + p_stage + p_neutral, pool_id["neutral"], risk_pool),
        ),
    )
    pool = np.where(position == 0, opener_pool[note], pool)
    pool = np.where((position == 1) & contact[note], pool_id["identifiers"], pool)
    index = offset[pool] + np.floor(u[3] * size[pool]).astype(np.int64)
    line_break = rng.random(total) < 0.015
    pieces = with_breaks[index + n_templates * line_break].tolist()

    typo = rng.random(n) < 0.12
    typo_u = rng.random(n)
    texts: list[str] = []
    for i in range(n):
        text = "".join(pieces[starts[i] : ends[i]]).rstrip().format_map(fields[child[i]])
        if typo[i]:
            text = swap_letters(text, typo_u[i])
        texts.append(text)
    return texts


def build_notes(
    rng: np.random.Generator,
    referrals: dict[str, np.ndarray],
    child_issues: np.ndarray,
    child_birth: np.ndarray,
    fields: list[dict[str, str]],
    child_ids: np.ndarray,
    end_day: int,
    notes_per_referral: float,
    chunk: int = 200_000,
) -> pd.DataFrame:
    """The case notes table, sorted by child, time and stage."""
    plan = plan_notes(rng, referrals, end_day, notes_per_referral)
    ref = plan["referral"]
    child = referrals["child"][ref]
    order = np.lexsort((plan["stage"], plan["second"], plan["day"], child_ids[child]))
    ref, child = ref[order], child[order]
    stage, day, second = plan["stage"][order], plan["day"][order], plan["second"][order]
    weights = np.array([STAGES[s][3:] for s in STAGE_NAMES])[stage]
    concern = sigmoid(
        weights[:, 0] * referrals["text_risk"][ref]
        + weights[:, 1] * referrals["family_risk"][ref]
        + weights[:, 2]
    )
    issues = child_issues[child].copy()
    adolescent = THEMES.index("adolescent")
    issues[:, adolescent] &= (day - child_birth[child]) >= 11 * 365.25
    theme = np.argmax(np.where(issues, rng.random(issues.shape), -1.0), axis=1)
    theme = np.where(issues.any(axis=1), theme, -1)
    source_group = SOURCE_GROUP[referrals["source"][ref]]
    texts: list[str] = []
    for lo in range(0, len(ref), chunk):
        hi = min(lo + chunk, len(ref))
        texts.extend(
            note_texts(
                rng,
                stage[lo:hi],
                source_group[lo:hi],
                concern[lo:hi],
                theme[lo:hi],
                fields,
                child[lo:hi],
            )
        )
    timestamps = (day * 86400 + second).astype("datetime64[s]")
    document = np.array(DOCUMENT_TYPES, dtype=object)[
        np.array([STAGES[s][0] for s in STAGE_NAMES])[stage]
    ]
    columns = {
        "NoteID": format_ids("N", np.arange(1, len(ref) + 1), 8),
        "LAchildID": child_ids[child],
        "NoteDateTime": np.datetime_as_string(timestamps, unit="s").astype(object),
        "DocumentType": document,
        "NoteText": np.array(texts, dtype=object),
    }
    del texts
    # Object columns: converting two million texts to pandas' Arrow-backed str
    # dtype would hold a second copy of them in memory.
    return pd.DataFrame({k: pd.Series(v, dtype=object, copy=False) for k, v in columns.items()})


# ---------------------------------------------------------------------------
# The whole LA.
# ---------------------------------------------------------------------------
def generate(
    seed: int,
    n_children: int,
    start: str = "2014-04-01",
    end: str = "2020-03-31",
    notes_per_referral: float = DEFAULT_NOTES_PER_REFERRAL,
) -> dict[str, pd.DataFrame]:
    """Generate every table of one synthetic LA (keys as in ``FILES``).

    ``n_children`` children are referred at least once between ``start`` and
    ``end``; ``notes_per_referral`` sets the mean number of case notes per
    referral (at least about five: contact form, early and step notes).
    """
    seed, n_children = int(seed), int(n_children)
    if n_children < 1:
        raise ValueError(f"n_children must be at least 1, got {n_children}")
    start_day, end_day = day_number(start), day_number(end)
    if end_day - start_day < 365:
        raise ValueError(f"the period {start} to {end} must cover at least a year")
    rng = np.random.default_rng(seed)
    notes_rng = rng.spawn(1)[0]
    families, referrals, kept = simulate_population(rng, n_children, start_day, end_day)

    # Children, in family order; identifiers are assigned in a random order.
    child_family = kept // MAX_SIBLINGS
    child_slot = kept % MAX_SIBLINGS
    referrals["child"] = np.searchsorted(
        kept, referrals["family"] * MAX_SIBLINGS + referrals["slot"]
    )
    n = len(kept)
    family_index, child_family_pos = np.unique(child_family, return_inverse=True)
    child_ids = format_ids("C", rng.permutation(n) + 1, 7)
    family_ids = format_ids("F", rng.permutation(len(family_index)) + 1, 5)
    birth = families["birth"][child_family, child_slot]
    sex = families["sex"][child_family, child_slot]
    n_disabilities = np.where(
        families["disabled"][child_family, child_slot], 1 + (rng.random(n) < 0.3), 0
    )
    disability_draw = [
        rng.choice(DISABILITIES, size=k, replace=False, p=DISABILITY_P / DISABILITY_P.sum())
        for k in n_disabilities.tolist()
    ]
    disabilities = np.array(
        [
            ";".join(sorted(d, key=list(DISABILITIES).index)) if len(d) else "NONE"
            for d in disability_draw
        ],
        dtype=object,
    )
    # Kept children are sorted by family: each family's children are one run.
    family_starts = np.flatnonzero(np.r_[True, np.diff(child_family_pos) != 0])
    sexes = np.split(sex, family_starts[1:])
    people, first_names = draw_people(rng, families["ethnicity"][family_index], sexes)
    child_first = np.empty(n, dtype=object)
    child_first[:] = [name for names in first_names for name in names]
    nhs = make_nhs_numbers(rng, n)
    upn = make_upns(rng, n)
    dob = iso_dates(birth)
    fields: list[dict[str, str]] = []
    for i in range(n):
        person = people[child_family_pos[i]]
        fields.append(
            {
                **person,
                "child": child_first[i],
                "child_full": f"{child_first[i]} {person['surname']}",
                "dob": f"{dob[i][8:10]}/{dob[i][5:7]}/{dob[i][:4]}",
                "dob_long": long_date(int(birth[i])),
                "nhs": nhs[i],
                "nhs_spaced": f"{nhs[i][:3]} {nhs[i][3:6]} {nhs[i][6:]}",
                "upn": upn[i],
            }
        )
    order = np.argsort(child_ids)
    family_of_child = child_family_pos
    children = pd.DataFrame(
        {
            "LAchildID": child_ids,
            "UPN": upn,
            "FamilyID": family_ids[family_of_child],
            "Sex": sex.astype(object),
            "PersonBirthDate": dob,
            "Ethnicity": ETHNICITIES[families["ethnicity"][child_family]].astype(object),
            "Disabilities": disabilities,
            "NHSNumber": nhs,
            "Postcode": np.array([people[f]["postcode"] for f in family_of_child], dtype=object),
        }
    ).iloc[order]
    people_table = pd.DataFrame(
        {
            "LAchildID": child_ids,
            "ChildFirstName": child_first,
            "ChildLastName": np.array([people[f]["surname"] for f in family_of_child], object),
            "CarerNames": np.array([people[f]["carer_names"] for f in family_of_child], object),
            "CarerPhone": np.array([people[f]["phone"] for f in family_of_child], object),
            "CarerEmail": np.array([people[f]["email"] for f in family_of_child], object),
        }
    ).iloc[order]

    # Referrals in date order.
    ref_order = np.lexsort((child_ids[referrals["child"]], referrals["day"]))
    referrals = {k: v[ref_order] for k, v in referrals.items()}
    n_ref = len(referrals["day"])
    referral_ids = format_ids("R", np.arange(1, n_ref + 1), 7)
    ref_child_ids = child_ids[referrals["child"]]
    closure = np.where(referrals["closure"] <= end_day, referrals["closure"], MISSING)
    referral_table = pd.DataFrame(
        {
            "LAchildID": ref_child_ids,
            "CINdetailsID": referral_ids,
            "CINreferralDate": iso_dates(referrals["day"]),
            "ReferralSource": SOURCES[referrals["source"]].astype(object),
            "PrimaryNeedCode": NEEDS[referrals["need"]].astype(object),
            "ReferralNFA": referrals["nfa"].astype(int).astype(str).astype(object),
            "CINclosureDate": iso_dates(closure),
            "ReasonForClosure": np.where(closure == MISSING, "", referrals["reason"]).astype(
                object
            ),
        }
    )

    def clip_end(days: np.ndarray) -> np.ndarray:
        return np.where(days <= end_day, days, MISSING)

    has = (referrals["assess_start"] != MISSING) & (referrals["assess_start"] <= end_day)
    child_issues = families["issues"][child_family]
    factors = assessment_factors(rng, child_issues[referrals["child"][has]], referrals["age"][has])
    assessments = pd.DataFrame(
        {
            "LAchildID": ref_child_ids[has],
            "CINdetailsID": referral_ids[has],
            "AssessmentID": format_ids("A", np.arange(1, int(has.sum()) + 1), 7),
            "AssessmentActualStartDate": iso_dates(referrals["assess_start"][has]),
            "AssessmentAuthorisationDate": iso_dates(clip_end(referrals["assess_auth"][has])),
            "AssessmentFactors": factors,
        }
    )
    s47_parts = []
    for start_col, icpc_col in (("s47_day", "icpc_day"), ("late_s47_day", "late_icpc_day")):
        has = (referrals[start_col] != MISSING) & (referrals[start_col] <= end_day)
        s47_parts.append(
            pd.DataFrame(
                {
                    "LAchildID": ref_child_ids[has],
                    "CINdetailsID": referral_ids[has],
                    "S47ActualStartDate": iso_dates(referrals[start_col][has]),
                    "DateOfInitialCPC": iso_dates(clip_end(referrals[icpc_col][has])),
                    "_order": np.flatnonzero(has),
                }
            )
        )
    section47 = (
        pd.concat(s47_parts, ignore_index=True)
        .sort_values(["_order", "S47ActualStartDate"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    has = (referrals["cpp_start"] != MISSING) & (referrals["cpp_start"] <= end_day)
    cp_plans = pd.DataFrame(
        {
            "LAchildID": ref_child_ids[has],
            "CINdetailsID": referral_ids[has],
            "CPPstartDate": iso_dates(referrals["cpp_start"][has]),
            "CPPendDate": iso_dates(clip_end(referrals["cpp_end"][has])),
            "InitialCategoryOfAbuse": CATEGORIES[referrals["category"][has]].astype(object),
        }
    )
    has = (referrals["care_start"] != MISSING) & (referrals["care_start"] <= end_day)
    episodes = care_episode_rows(
        rng,
        ref_child_ids[has],
        referrals["care_start"][has],
        referrals["care_end"][has],
        referrals["care_outcome"][has],
        referrals["need"][has],
        end_day,
    )
    episodes = pd.DataFrame(
        {
            "CHILD": episodes["child"].to_numpy(dtype=object),
            "DECOM": uk_dates(episodes["DECOM"].to_numpy()),
            "RNE": episodes["RNE"].to_numpy(dtype=object),
            "LS": episodes["LS"].to_numpy(dtype=object),
            "CIN": episodes["CIN"].to_numpy(dtype=object),
            "PLACE": episodes["PLACE"].to_numpy(dtype=object),
            "DEC": uk_dates(episodes["DEC"].to_numpy()),
            "REC": episodes["REC"].to_numpy(dtype=object),
        }
    )
    ground_truth = pd.DataFrame(
        {
            "CINdetailsID": referral_ids,
            "LAchildID": ref_child_ids,
            "family_risk": [f"{v:.6f}" for v in referrals["family_risk"]],
            "p_nfa_rereferral": [f"{v:.6f}" for v in referrals["p_nfa_rereferral"]],
            "p_escalation": [f"{v:.6f}" for v in referrals["p_escalation"]],
        }
    )
    case_notes = build_notes(
        notes_rng,
        referrals,
        child_issues,
        birth,
        fields,
        child_ids,
        end_day,
        notes_per_referral,
    )
    tables = {
        "children": children.reset_index(drop=True),
        "people": people_table.reset_index(drop=True),
        "referrals": referral_table,
        "assessments": assessments,
        "section47": section47,
        "cp_plans": cp_plans,
        "episodes": episodes,
        "case_notes": case_notes,
        "ground_truth": ground_truth,
    }
    tables["children"].attrs["generator"] = {
        "seed": seed,
        "n_children": n_children,
        "start": start,
        "end": end,
        "notes_per_referral": notes_per_referral,
    }
    logger.info(
        "generated %d children in %d families, %d referrals, %d notes",
        n,
        len(family_index),
        n_ref,
        len(case_notes),
    )
    return tables


def readme_text(tables: dict[str, pd.DataFrame]) -> str:
    """The README written beside the exports."""
    settings = tables["children"].attrs.get("generator", {})
    seed, n = settings.get("seed", "?"), settings.get("n_children", "?")
    notes = f"{settings.get('notes_per_referral', '?'):g}"
    command = (
        f"python workflow/scripts/generate_synthetic_la.py --seed {seed} --children {n} "
        f"--notes-per-referral {notes} --out <directory>"
    )
    paragraphs = [
        f"Every file here is synthetic. It was generated by "
        f"`workflow/scripts/generate_synthetic_la.py` with seed {seed} and {n} children, "
        f"referrals from {settings.get('start', '?')} to {settings.get('end', '?')} and "
        f"notes_per_referral = {notes} (the mean number of case notes per referral; "
        f"at least about five come from the contact form and the notes of each step):",
        f"    {command}",
        "No row describes a real child, family or case. Every name, date of birth, NHS "
        "number (fake, though with a valid check digit), unique pupil number, postcode, "
        "phone number and e-mail address is made up from embedded lists and random "
        "numbers. The NoteText of `case_notes.csv` is generated text, assembled from "
        "sentence templates; it contains planted identifiers so that redaction can be "
        "tested.",
        "Formats: CIN census shapes (ISO dates) for children, referrals, assessments, "
        "section 47 enquiries and child protection plans; the SSDA903 Episodes shape "
        "(dd/mm/YYYY dates) for `episodes.csv`.",
        "`ground_truth.csv` holds, for each referral, the family's latent risk and the "
        "true probability of each outcome under the generating process: "
        "`p_nfa_rereferral`, closed with no further action and referred again within 12 "
        "months (of the closure and of referral + 1 day; as known at the referral date); "
        "`p_escalation`, a child "
        "protection plan or care episode starting within 3 months after referral + 14 "
        "days (given the NFA and section 47 decisions, made before that point). The "
        "workflow never reads it; benchmarks use it.",
    ]
    body = "\n\n".join(
        p if p.startswith("    ") else textwrap.fill(p, width=80) for p in paragraphs
    )
    counts = "\n".join(f"- `{FILES[name]}`: {len(frame):,} rows" for name, frame in tables.items())
    return f"# Synthetic local authority: generated data, no real person\n\n{body}\n\n{counts}\n"


def write_exports(tables: dict[str, pd.DataFrame], out_dir: Path) -> None:
    """Write every table as UTF-8 CSV (fixed column order, "\\n" line ends,
    quoted where needed) and a README into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, filename in FILES.items():
        frame = tables[name]
        if list(frame.columns) != COLUMNS[name]:
            raise ValueError(f"{name}: columns {list(frame.columns)} != {COLUMNS[name]}")
        path = out_dir / filename
        tmp = path.with_name(f".{filename}.tmp")
        frame.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
        tmp.replace(path)
    (out_dir / "README.md").write_text(readme_text(tables), encoding="utf-8", newline="\n")
    logger.info("wrote %d files to %s", len(FILES) + 1, out_dir)


def xml_elements(name: str, values: pd.Series) -> pd.Series:
    """``<name>value</name>`` for each value; "" where the value is missing."""
    return ("<" + name + ">" + values.astype("string") + "</" + name + ">").fillna("")


def known_by(values: pd.Series, reference_date: str) -> pd.Series:
    """ISO dates on or before ``reference_date``; later or missing dates as missing."""
    return values.where(values.notna() & (values <= reference_date))


def cin_parts_by_referral(
    frame: pd.DataFrame, start: str, element: str, reference_date: str, body
) -> pd.Series:
    """The ``element`` blocks of one CIN child table (assessments, enquiries or
    plans) started by ``reference_date``, joined per referral id."""
    rows = frame.loc[frame[start].notna() & (frame[start] <= reference_date)]
    xml = f"<{element}>" + body(rows) + f"</{element}>"
    return xml.groupby(rows["CINdetailsID"], sort=False).agg("".join)


def write_cin_census(exports: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Write the synthetic LA's referrals as CIN census XML returns, one per
    collection year (1 April to 31 March, named by its March) from the first
    referral's to the last's, as ``cin_census_{year}.xml``.

    ``exports`` holds the exported children, referrals, assessments, section47
    and cp_plans tables as strings. A year's return holds every referral open
    at some time in it, with the closure, assessments, enquiries and plans
    known by its 31 March; sex is ``GenderCurrent`` up to 2024 and ``Sex`` from
    2025. Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    children = exports["children"]
    referrals = exports["referrals"]
    factors = exports["assessments"]["AssessmentFactors"].astype("string")
    factors_xml = (
        "<FactorsIdentifiedAtAssessment><AssessmentFactors>"
        + factors.str.replace(";", "</AssessmentFactors><AssessmentFactors>")
        + "</AssessmentFactors></FactorsIdentifiedAtAssessment>"
    ).fillna("")
    disabilities = (
        "<Disabilities><Disability>"
        + children["Disabilities"].astype("string").str.replace(";", "</Disability><Disability>")
        + "</Disability></Disabilities>"
    ).fillna("")
    identifiers = (
        xml_elements("LAchildID", children["LAchildID"])
        + xml_elements("UPN", children["UPN"])
        + xml_elements("PersonBirthDate", children["PersonBirthDate"])
    )
    characteristics = (
        "<ChildCharacteristics>"
        + xml_elements("Ethnicity", children["Ethnicity"])
        + disabilities
        + "</ChildCharacteristics>"
    )
    first_year, last_year = (
        int(date[:4]) + (date[5:7] >= "04")
        for date in (referrals["CINreferralDate"].min(), referrals["CINreferralDate"].max())
    )
    paths = []
    for year in range(first_year, last_year + 1):
        ref = f"{year}-03-31"
        assessments = cin_parts_by_referral(
            exports["assessments"].assign(_factors=factors_xml),
            "AssessmentActualStartDate",
            "Assessments",
            ref,
            lambda a, ref=ref: (
                xml_elements("AssessmentActualStartDate", a["AssessmentActualStartDate"])
                + xml_elements(
                    "AssessmentAuthorisationDate", known_by(a["AssessmentAuthorisationDate"], ref)
                )
                + a["_factors"]
            ),
        )
        enquiries = cin_parts_by_referral(
            exports["section47"],
            "S47ActualStartDate",
            "Section47",
            ref,
            lambda e, ref=ref: (
                xml_elements("S47ActualStartDate", e["S47ActualStartDate"])
                + xml_elements("DateOfInitialCPC", known_by(e["DateOfInitialCPC"], ref))
                + "<ICPCnotRequired>0</ICPCnotRequired>"
            ),
        )
        plans = cin_parts_by_referral(
            exports["cp_plans"],
            "CPPstartDate",
            "ChildProtectionPlans",
            ref,
            lambda c, ref=ref: (
                xml_elements("CPPstartDate", c["CPPstartDate"])
                + xml_elements("CPPendDate", known_by(c["CPPendDate"], ref))
                + xml_elements("InitialCategoryOfAbuse", c["InitialCategoryOfAbuse"])
            ),
        )
        closure = referrals["CINclosureDate"]
        in_year = (referrals["CINreferralDate"] <= ref) & (
            closure.isna() | (closure >= f"{year - 1}-04-01")
        )
        r = referrals.loc[in_year]
        closed = known_by(r["CINclosureDate"], ref)
        details = (
            "<CINdetails>"
            + xml_elements("CINreferralDate", r["CINreferralDate"])
            + xml_elements("ReferralSource", r["ReferralSource"])
            + xml_elements("PrimaryNeedCode", r["PrimaryNeedCode"])
            + xml_elements("CINclosureDate", closed)
            + xml_elements("ReasonForClosure", r["ReasonForClosure"].where(closed.notna()))
            + r["CINdetailsID"].map(assessments).astype("string").fillna("")
            + r["CINdetailsID"].map(enquiries).astype("string").fillna("")
            + xml_elements("ReferralNFA", r["ReferralNFA"])
            + r["CINdetailsID"].map(plans).astype("string").fillna("")
            + "</CINdetails>"
        )
        by_child = details.groupby(r["LAchildID"], sort=False).agg("".join)
        sex = (
            xml_elements("GenderCurrent", children["Sex"].map({"M": "1", "F": "2"}).fillna("0"))
            if year <= 2024
            else xml_elements("Sex", children["Sex"])
        )
        in_return = children["LAchildID"].isin(by_child.index)
        child_xml = (
            "<Child><ChildIdentifiers>"
            + identifiers
            + sex
            + "</ChildIdentifiers>"
            + characteristics
            + children["LAchildID"].map(by_child).astype("string").fillna("")
            + "</Child>"
        ).loc[in_return]
        path = out_dir / f"cin_census_{year}.xml"
        path.write_text(
            '<?xml version="1.0" encoding="utf-8"?>\n<Message><Header><CollectionDetails>'
            f"<Collection>CIN</Collection><Year>{year}</Year>"
            f"<ReferenceDate>{ref}</ReferenceDate></CollectionDetails></Header>"
            f"<Children>{''.join(child_xml)}</Children></Message>\n",
            encoding="utf-8",
        )
        paths.append(path)
        logger.info("%s: %d children", path, int(in_return.sum()))
    return paths


def main(snakemake) -> None:
    """Generate the rule's LA (its seed and number of children) into its directory."""
    tables = generate(int(snakemake.params.seed), int(snakemake.params.n_children))
    write_exports(tables, Path(snakemake.params.directory))


def cli(argv: list[str] | None = None) -> None:
    """Command line: generate one LA into a directory."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--children", type=int, required=True, help="number of children")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--start", default="2014-04-01", help="first referral date")
    parser.add_argument("--end", default="2020-03-31", help="last date of the extract")
    parser.add_argument(
        "--notes-per-referral",
        type=float,
        default=DEFAULT_NOTES_PER_REFERRAL,
        help="mean number of case notes per referral (at least about 5 are made)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    tables = generate(args.seed, args.children, args.start, args.end, args.notes_per_referral)
    write_exports(tables, args.out)


if __name__ == "__main__":
    if "snakemake" in globals():  # run as a Snakemake rule
        from common import run

        run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
    else:
        cli()
