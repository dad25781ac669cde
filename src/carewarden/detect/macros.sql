-- Helpers the privacy rules share, created as TEMP macros before the rules run.
-- Names and addresses arrive formatted differently by HR and by registration ("Sarah" vs
-- "Sarah Ana"; "139 WALNUT LN APT 2C" vs "139 Walnut Lane, Apt 2C"): compare normal forms.

-- The first given name, lower case: what HR and registration agree on.
CREATE OR REPLACE TEMP MACRO first_given(given) AS
    split_part(lower(trim(coalesce(given, ''))), ' ', 1);

-- An address line as words: lower case, punctuation dropped, USPS Pub. 28 street suffixes,
-- directionals and unit designators abbreviated ("Lane" -> "ln", "Apartment" -> "apt").
CREATE OR REPLACE TEMP MACRO address_words(line) AS
    list_transform(
        string_split(trim(regexp_replace(
            regexp_replace(lower(coalesce(line, '')), '#', ' apt ', 'g'),
            '[^a-z0-9]+', ' ', 'g')), ' '),
        lambda w: coalesce(MAP {
            'street': 'st', 'str': 'st', 'avenue': 'ave', 'av': 'ave', 'lane': 'ln',
            'drive': 'dr', 'road': 'rd', 'boulevard': 'blvd', 'court': 'ct', 'place': 'pl',
            'circle': 'cir', 'terrace': 'ter', 'parkway': 'pkwy', 'highway': 'hwy',
            'square': 'sq', 'trail': 'trl', 'crossing': 'xing', 'heights': 'hts',
            'north': 'n', 'south': 's', 'east': 'e', 'west': 'w', 'northeast': 'ne',
            'northwest': 'nw', 'southeast': 'se', 'southwest': 'sw',
            'apartment': 'apt', 'suite': 'ste', 'unit': 'apt', 'floor': 'fl', 'room': 'rm',
            'building': 'bldg'
        }[w], w));

-- The whole address, unit included: a household.
CREATE OR REPLACE TEMP MACRO address_home(line) AS
    array_to_string(address_words(line), ' ');

-- The building: the words before the first unit designator.
CREATE OR REPLACE TEMP MACRO address_building(line) AS
    array_to_string(address_words(line)[1:coalesce(nullif(list_position(
        list_transform(address_words(line),
                       lambda w: w IN ('apt', 'ste', 'fl', 'rm', 'bldg', 'lot')), true), 0)
        - 1, len(address_words(line)))], ' ');

-- The street: the building without its house number.
CREATE OR REPLACE TEMP MACRO address_street(line) AS
    regexp_replace(address_building(line), '^[0-9]+[a-z]?\s+', '');

-- A postal code to compare: a US ZIP's five digits (ZIP+4 dropped), else letters and digits.
CREATE OR REPLACE TEMP MACRO postal(code) AS
    CASE WHEN regexp_matches(coalesce(code, ''), '^\s*[0-9]{5}')
         THEN regexp_extract(code, '[0-9]{5}')
         ELSE upper(regexp_replace(coalesce(code, ''), '[^0-9A-Za-z]', '', 'g')) END;
