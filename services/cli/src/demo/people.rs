//! Made-up people: names (some with accents, apostrophes or hyphens, so
//! verbatim text is exercised), example.com addresses and fictional phone
//! numbers (555).

use rand::RngExt;

use super::Rng;

const FIRST_NAMES: [&str; 32] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Margaret",
    "Dennis",
    "Radia",
    "Ken",
    "Hedy",
    "Tim",
    "Katherine",
    "Linus",
    "Sofía",
    "José",
    "Zoë",
    "Chloé",
    "Mei",
    "Hiroshi",
    "Amara",
    "Kwame",
    "Ingrid",
    "Søren",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Elena",
    "Mateo",
];
const LAST_NAMES: [&str; 32] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Thompson",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Torvalds",
    "García",
    "Núñez",
    "O'Brien",
    "Dubois",
    "Chen",
    "Tanaka",
    "Okafor",
    "Mensah",
    "Larsen",
    "Kierkegaard",
    "Sharma",
    "Patel",
    "Haddad",
    "Khalil",
    "Rossi",
    "Silva",
];

pub struct Person {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// A person; `number` makes the email address unique.
pub fn person(number: usize, rng: &mut Rng) -> Person {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    Person {
        name: format!("{first} {last}"),
        email: format!("{}.{}.{number}@example.com", email_part(first), email_part(last)),
        phone: format!("+1555{:07}", rng.random_range(0..10_000_000)),
    }
}

/// The name's letters as lower-case ASCII, accents folded ("Núñez": "nunez").
fn email_part(name: &str) -> String {
    name.chars()
        .map(|character| match character {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' => 'i',
            'ó' | 'ö' | 'ø' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .filter(char::is_ascii_alphabetic)
        .map(|character| character.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::email_part;

    #[test]
    fn folds_names_into_plain_addresses() {
        assert_eq!(email_part("Núñez"), "nunez");
        assert_eq!(email_part("O'Brien"), "obrien");
        assert_eq!(email_part("Berners-Lee"), "bernerslee");
        assert_eq!(email_part("Søren"), "soren");
    }
}
