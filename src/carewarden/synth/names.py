"""Name, street and town tables for the synthetic population.

Surname head: the most frequent US surnames with their approximate frequency per 100,000
people (US Census Bureau, 2010 surname file), so Smith/Johnson/Garcia collide as often as in
a real hospital. The remaining ~80% of people draw from a long synthetic tail with a Zipf-like
(log-uniform) rank distribution.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate

SURNAME_HEAD: tuple[tuple[str, int], ...] = (
    ("Smith", 828), ("Johnson", 655), ("Williams", 550), ("Brown", 487), ("Jones", 483),
    ("Garcia", 394), ("Miller", 387), ("Davis", 381), ("Rodriguez", 369), ("Martinez", 353),
    ("Hernandez", 343), ("Lopez", 301), ("Gonzalez", 289), ("Wilson", 271), ("Anderson", 267),
    ("Thomas", 246), ("Taylor", 245), ("Moore", 235), ("Jackson", 233), ("Martin", 231),
    ("Lee", 228), ("Perez", 226), ("Thompson", 219), ("White", 217), ("Harris", 200),
    ("Sanchez", 198), ("Clark", 182), ("Ramirez", 178), ("Lewis", 174), ("Robinson", 172),
    ("Walker", 171), ("Young", 160), ("Allen", 157), ("King", 156), ("Wright", 154),
    ("Scott", 145), ("Torres", 143), ("Nguyen", 142), ("Hill", 142), ("Flores", 141),
    ("Green", 139), ("Adams", 138), ("Nelson", 136), ("Baker", 133), ("Hall", 132),
    ("Rivera", 129), ("Campbell", 128), ("Mitchell", 128), ("Carter", 127), ("Roberts", 126),
    ("Gomez", 120), ("Phillips", 118), ("Evans", 117), ("Turner", 116), ("Diaz", 115),
    ("Parker", 114), ("Cruz", 113), ("Edwards", 112), ("Collins", 111), ("Reyes", 110),
    ("Stewart", 109), ("Morris", 107), ("Morales", 106), ("Murphy", 105), ("Cook", 104),
    ("Rogers", 103), ("Gutierrez", 98), ("Ortiz", 96), ("Morgan", 96), ("Cooper", 95),
    ("Peterson", 94), ("Bailey", 93), ("Reed", 92), ("Kelly", 91), ("Howard", 90),
    ("Ramos", 89), ("Kim", 88), ("Cox", 87), ("Ward", 86), ("Richardson", 85),
    ("Watson", 84), ("Brooks", 83), ("Chavez", 82), ("Wood", 81), ("James", 80),
    ("Bennett", 79), ("Gray", 78), ("Mendoza", 77), ("Ruiz", 76), ("Hughes", 75),
    ("Price", 74), ("Alvarez", 73), ("Castillo", 72), ("Sanders", 71), ("Patel", 70),
    ("Myers", 69), ("Long", 68), ("Ross", 67), ("Foster", 66), ("Jimenez", 65),
)

_TAIL_PREFIX = (
    "Ash", "Brad", "Carl", "Dun", "Ells", "Fair", "Gold", "Hart", "Kings", "Lang", "Mar", "Nor",
    "Oak", "Pen", "Red", "Stan", "Thorn", "Wes", "Whit", "Wood", "Bel", "Cor", "Dal", "Fen",
    "Gar", "Hol", "Kel", "Lind", "Mor", "Pres", "Rad", "Sel", "Tal", "Ver", "Wal", "Bur",
    "Craw", "Ros", "Sut", "Blan",
)
_TAIL_SUFFIX = (
    "ford", "ley", "ton", "wood", "field", "well", "by", "more", "worth", "son", "man", "ridge",
    "ham", "stead", "wick", "bridge", "shaw", "den", "lock", "ington",
)
_TAIL_REAL = (
    "Chen", "Wang", "Singh", "Ali", "Khan", "Cohen", "O'Brien", "Kowalski", "Nowak", "Schmidt",
    "Muñoz", "Peña", "Okafor", "Adeyemi", "Tran", "Pham", "Le", "Huang", "Yamamoto", "Sato",
    "Rossi", "Russo", "Novak", "Horvat", "Johansson", "Larsen", "Nielsen", "Olsen", "Fischer",
    "Weber", "Becker", "Hoffmann", "Schulz", "Dubois", "Moreau", "Laurent", "Lefebvre", "Ivanov",
    "Petrov", "Kuznetsov", "Haddad", "Nasser", "Mensah", "Owusu", "Abdi", "Hassan", "Ibrahim",
    "Gupta", "Shah", "Desai", "Reddy", "Rao", "Iyer", "Das", "Bose", "Park", "Choi", "Jung",
    "Kang", "Yoon", "St. Pierre", "McAllister", "MacDonald", "D'Angelo", "De la Cruz",
)
SURNAME_TAIL: tuple[str, ...] = tuple(
    sorted({p + s for p in _TAIL_PREFIX for s in _TAIL_SUFFIX} | set(_TAIL_REAL))
)
_HEAD_NAMES = tuple(n for n, _ in SURNAME_HEAD)
_HEAD_CUM = tuple(accumulate(w for _, w in SURNAME_HEAD))
_HEAD_SHARE = 0.20  # the head covers ~20% of the US population

GIVEN_F: tuple[str, ...] = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily",
    "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca",
    "Sharon", "Laura", "Cynthia", "Amy", "Kathleen", "Angela", "Shirley", "Brenda", "Emma",
    "Anna", "Pamela", "Nicole", "Samantha", "Katherine", "Christine", "Rachel", "Maria",
    "Olivia", "Sophia", "Isabella", "Ava", "Mia", "Priya", "Mei", "Fatima", "Aisha", "Lucía",
    "Zoë", "Chloe", "Grace", "Hannah", "Natalie", "Victoria", "Camila",
)
GIVEN_M: tuple[str, ...] = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven",
    "Andrew", "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald",
    "Jason", "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
    "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory",
    "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Luis", "José",
    "Carlos", "Juan", "Wei", "Arjun", "Omar", "Mohammed", "Liam", "Noah",
)

STREETS: tuple[str, ...] = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Walnut", "Park",
    "Lincoln", "Jefferson", "Main", "Church", "Spring", "Prairie", "Sangamon", "Chestnut",
    "Ridge", "Meadow", "Monroe", "Adams", "Jackson", "Madison", "Willow", "Sunset", "Highland",
    "Lakeview", "Forest", "Cherry", "Dogwood", "Hickory", "Birch", "Mulberry", "Sycamore",
    "Laurel", "Aspen", "Grove", "Orchard", "Vine",
)
STREET_TYPES: tuple[str, ...] = ("St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way", "Pl")
TOWNS: tuple[tuple[str, str, str], ...] = (
    ("Springfield", "IL", "627"),
    ("Chatham", "IL", "626"),
    ("Rochester", "IL", "626"),
    ("Sherman", "IL", "626"),
    ("Riverton", "IL", "626"),
    ("Jacksonville", "IL", "626"),
    ("Lincoln", "IL", "626"),
    ("Taylorville", "IL", "625"),
    ("Decatur", "IL", "625"),
    ("Petersburg", "IL", "626"),
)
TOWN_WEIGHTS: tuple[int, ...] = (60, 8, 6, 5, 4, 5, 4, 3, 4, 1)


def pick_surname(rng: random.Random) -> str:
    """A surname from the head (census frequencies) or the Zipf-like tail."""
    if rng.random() < _HEAD_SHARE:
        x = rng.random() * _HEAD_CUM[-1]
        return _HEAD_NAMES[bisect_right(_HEAD_CUM, x)]
    n = len(SURNAME_TAIL)
    idx = min(n - 1, int(n ** rng.random()) - 1)
    # Spread the log-uniform ranks over a shuffled-but-fixed order of the tail.
    return SURNAME_TAIL[(idx * 7919) % n]


def pick_given(rng: random.Random, gender: str) -> str:
    """A given name for the gender ("female" or "male")."""
    return rng.choice(GIVEN_F if gender == "female" else GIVEN_M)
