"""Age of majority by jurisdiction (ISO 3166-1 alpha-2, or ISO 3166-2 for the places
whose subdivisions differ). Minor status is computed from this and a date of birth, never
stored, so it changes by itself on the talent's birthday."""

from datetime import date

DEFAULT_AGE_OF_MAJORITY = 18

# Sources: the statutes of each place as of 2026. US states other than these are 18;
# Canadian provinces other than these are 18; Japan lowered it to 18 in 2022.
AGE_OF_MAJORITY: dict[str, int] = {
    "US-AL": 19,
    "US-NE": 19,
    "US-MS": 21,
    "CA-BC": 19,
    "CA-NB": 19,
    "CA-NL": 19,
    "CA-NS": 19,
    "CA-NT": 19,
    "CA-NU": 19,
    "CA-YT": 19,
    "KR": 19,
}


def age_of_majority(jurisdiction: str) -> int:
    code = jurisdiction.strip().upper()
    return AGE_OF_MAJORITY.get(code, DEFAULT_AGE_OF_MAJORITY)


def age_on(date_of_birth: date, on: date) -> int:
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


def is_minor(*, date_of_birth: date, jurisdiction: str, on: date) -> bool:
    return age_on(date_of_birth, on) < age_of_majority(jurisdiction)
