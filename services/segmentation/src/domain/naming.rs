//! Human names for k-means segments, derived from their centroids.
//!
//! Each archetype is a prototype position in (recency, frequency, monetary,
//! tenure) z-space, recency counted as "how recent" (the negated z of days
//! since the last purchase). Segments and archetypes are matched greedily,
//! closest pair first, so names are unique within a model; beyond the nine
//! archetypes a segment takes its closest archetype's name and a number.

/// A segment's position on the four naming axes, in standardised units; an
/// axis whose feature the model lacks is 0 (average).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Profile {
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
    pub tenure: f64,
}

struct Archetype {
    name: &'static str,
    description: &'static str,
    prototype: [f64; 4],
}

const ARCHETYPES: &[Archetype] = &[
    Archetype {
        name: "Champions",
        description: "bought recently, buy often and spend the most",
        prototype: [1.0, 1.0, 1.0, 0.5],
    },
    Archetype { name: "Loyal", description: "buy regularly over a long relationship", prototype: [0.5, 0.8, 0.3, 0.8] },
    Archetype {
        name: "Big spenders",
        description: "spend well above average, though not often",
        prototype: [0.0, -0.2, 1.5, 0.0],
    },
    Archetype {
        name: "New",
        description: "first purchases were recent; the relationship has just started",
        prototype: [1.0, -0.7, -0.5, -1.2],
    },
    Archetype {
        name: "Promising",
        description: "recent buyers with average frequency and spend, worth growing",
        prototype: [0.7, 0.0, 0.0, -0.3],
    },
    Archetype {
        name: "Needs attention",
        description: "average recency, frequency and spend, starting to drift",
        prototype: [0.0, -0.2, -0.2, 0.0],
    },
    Archetype {
        name: "At risk",
        description: "used to buy often and spend well, but not lately",
        prototype: [-0.8, 0.7, 0.6, 0.5],
    },
    Archetype {
        name: "Hibernating",
        description: "low activity and low spend for a while",
        prototype: [-0.7, -0.5, -0.5, 0.0],
    },
    Archetype {
        name: "Lost",
        description: "have not bought for a long time, with low frequency and spend",
        prototype: [-1.5, -0.8, -0.8, 0.3],
    },
];

fn distance(profile: &Profile, prototype: &[f64; 4]) -> f64 {
    let axes = [profile.recency, profile.frequency, profile.monetary, profile.tenure];
    axes.iter().zip(prototype).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// A (name, description) per profile, names unique.
pub fn name_segments(profiles: &[Profile]) -> Vec<(String, String)> {
    let mut pairs: Vec<(f64, usize, usize)> = profiles
        .iter()
        .enumerate()
        .flat_map(|(segment, profile)| {
            ARCHETYPES
                .iter()
                .enumerate()
                .map(move |(archetype, known)| (distance(profile, &known.prototype), segment, archetype))
        })
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));

    let mut chosen: Vec<Option<usize>> = vec![None; profiles.len()];
    let mut taken = vec![false; ARCHETYPES.len()];
    for (_, segment, archetype) in pairs {
        if chosen[segment].is_none() && !taken[archetype] {
            chosen[segment] = Some(archetype);
            taken[archetype] = true;
        }
    }

    let mut repeats = vec![1usize; ARCHETYPES.len()];
    profiles
        .iter()
        .zip(chosen)
        .map(|(profile, archetype)| match archetype {
            Some(index) => (ARCHETYPES[index].name.to_owned(), ARCHETYPES[index].description.to_owned()),
            None => {
                // More segments than archetypes: the closest one, numbered.
                let index = (0..ARCHETYPES.len())
                    .min_by(|&a, &b| {
                        distance(profile, &ARCHETYPES[a].prototype)
                            .total_cmp(&distance(profile, &ARCHETYPES[b].prototype))
                    })
                    .unwrap_or(0);
                repeats[index] += 1;
                (format!("{} {}", ARCHETYPES[index].name, repeats[index]), ARCHETYPES[index].description.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_profiles_get_their_archetype_and_names_are_unique() {
        let profiles = [
            Profile { recency: 1.1, frequency: 1.2, monetary: 1.1, tenure: 0.4 },
            Profile { recency: -1.6, frequency: -0.9, monetary: -0.7, tenure: 0.2 },
            Profile { recency: 0.9, frequency: -0.8, monetary: -0.6, tenure: -1.3 },
            Profile { recency: -0.9, frequency: 0.8, monetary: 0.7, tenure: 0.6 },
        ];
        let names: Vec<String> = name_segments(&profiles).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, vec!["Champions", "Lost", "New", "At risk"]);
    }

    #[test]
    fn many_segments_still_get_unique_names() {
        let profiles: Vec<Profile> = (0..20)
            .map(|i| Profile { recency: (i % 5) as f64 - 2.0, frequency: (i / 5) as f64, ..Profile::default() })
            .collect();
        let mut names: Vec<String> = name_segments(&profiles).into_iter().map(|(name, _)| name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 20);
    }
}
