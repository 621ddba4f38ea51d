//! The fixed vocabulary of the sample world: sites, French first and last names,
//! companies, trades and electrical loads. Random choices are drawn from these lists.

use rand::Rng;
use rand::seq::IndexedRandom;
use uuid::Uuid;

/// A site of the sample world.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub region: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub bed_capacity: u32,
    pub timezone: &'static str,
    /// The onshore base its crews and cargo leave from (its own code for a base).
    pub base: &'static str,
    /// Weekdays (0 = Monday) on which crews change.
    pub crew_change_days: [u32; 2],
}

pub(crate) const SITES: [Site; 10] = [
    site(
        "PGL",
        "Base logistique de Port-Gentil",
        "onshore_base",
        "Gabon",
        -0.7193,
        8.7815,
        180,
        "Africa/Libreville",
        "PGL",
        [0, 3],
    ),
    site(
        "ALB",
        "Plateforme Albatros",
        "offshore_platform",
        "Gabon offshore",
        -1.0521,
        8.4210,
        140,
        "Africa/Libreville",
        "PGL",
        [1, 4],
    ),
    site(
        "CRM",
        "Plateforme Cormoran",
        "offshore_platform",
        "Gabon offshore",
        -1.3312,
        8.6104,
        96,
        "Africa/Libreville",
        "PGL",
        [2, 5],
    ),
    site(
        "GLD",
        "Plateforme Goéland",
        "offshore_platform",
        "Gabon offshore",
        -0.9120,
        8.2045,
        80,
        "Africa/Libreville",
        "PGL",
        [1, 3],
    ),
    site("MRN", "FPSO Marianne", "fpso", "Gabon offshore", -1.6840, 8.0172, 160, "Africa/Libreville", "PGL", [2, 6]),
    site(
        "PNR",
        "Base de Pointe-Noire",
        "onshore_base",
        "Congo",
        -4.7761,
        11.8635,
        150,
        "Africa/Brazzaville",
        "PNR",
        [0, 4],
    ),
    site(
        "SRC",
        "Appareil de forage Sirocco",
        "drilling_rig",
        "Congo offshore",
        -5.1835,
        11.4392,
        110,
        "Africa/Brazzaville",
        "PNR",
        [1, 5],
    ),
    site(
        "MST",
        "Plateforme Mistral",
        "offshore_platform",
        "Congo offshore",
        -4.9520,
        11.2318,
        72,
        "Africa/Brazzaville",
        "PNR",
        [3, 6],
    ),
    site(
        "NKS",
        "Plateforme N'Kossa Sud",
        "offshore_platform",
        "Congo offshore",
        -5.2740,
        11.5561,
        120,
        "Africa/Brazzaville",
        "PNR",
        [0, 3],
    ),
    site(
        "LCQ",
        "Base technique de Lacq",
        "onshore_base",
        "Nouvelle-Aquitaine",
        43.4131,
        -0.6275,
        60,
        "Europe/Paris",
        "LCQ",
        [0, 3],
    ),
];

#[allow(clippy::too_many_arguments)]
const fn site(
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    region: &'static str,
    latitude: f64,
    longitude: f64,
    bed_capacity: u32,
    timezone: &'static str,
    base: &'static str,
    crew_change_days: [u32; 2],
) -> Site {
    Site { code, name, kind, region, latitude, longitude, bed_capacity, timezone, base, crew_change_days }
}

/// A site with the identifier the generator gave it.
#[derive(Debug, Clone)]
pub(crate) struct SiteRow {
    pub id: Uuid,
    pub site: Site,
}

impl Site {
    pub fn is_offshore(&self) -> bool {
        self.kind != "onshore_base"
    }

    /// Great-circle distance in nautical miles.
    pub fn distance_nm(&self, other: &Site) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let delta_lat = lat2 - lat1;
        let delta_lon = (other.longitude - self.longitude).to_radians();
        let haversine = (delta_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (delta_lon / 2.0).sin().powi(2);
        2.0 * 3440.065 * haversine.sqrt().asin()
    }
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Jean",
    "Pierre",
    "Michel",
    "Philippe",
    "Alain",
    "Nicolas",
    "Christophe",
    "Laurent",
    "Julien",
    "Sébastien",
    "Thomas",
    "Antoine",
    "Mathieu",
    "Olivier",
    "Guillaume",
    "Hervé",
    "Franck",
    "Rémi",
    "Jérôme",
    "Benoît",
    "Cédric",
    "Loïc",
    "Yannick",
    "François",
    "Grégoire",
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sophie",
    "Claire",
    "Camille",
    "Émilie",
    "Céline",
    "Aurélie",
    "Hélène",
    "Léa",
    "Chloé",
    "Manon",
    "Joël",
    "Serge",
    "Armel",
    "Landry",
    "Rodrigue",
    "Ghislain",
    "Brice",
    "Aimé",
    "Fabrice",
    "Ulrich",
    "Arsène",
    "Prisca",
    "Nadège",
    "Gaëlle",
    "Noémie",
    "Maëlle",
    "Jérémie",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefèbvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Mba",
    "Nguema",
    "Obiang",
    "Ondo",
    "Moussavou",
    "Mabiala",
    "Nkounkou",
    "Makosso",
    "Bouanga",
    "Loemba",
    "Tchicaya",
    "Kimbembe",
    "Boussougou",
    "Ndong",
    "Mavoungou",
    "Le Gall",
    "Le Goff",
    "Kerhervé",
    "Etcheverry",
    "Lacoste",
    "Darrigrand",
    "Castaing",
    "Duhalde",
];

pub(crate) const NATIONALITIES: &[(&str, u32)] =
    &[("FR", 40), ("GA", 25), ("CG", 20), ("CM", 5), ("GB", 4), ("IT", 3), ("NO", 3)];

pub(crate) const JOB_TITLES: &[&str] = &[
    "Opérateur de production",
    "Chef de quart",
    "Électricien",
    "Instrumentiste",
    "Mécanicien",
    "Grutier",
    "Élingueur",
    "Technicien HSE",
    "Infirmier",
    "Cuisinier",
    "Agent hôtelier",
    "Superviseur maintenance",
    "Ingénieur procédés",
    "Chef de plateforme",
    "Radio-opérateur",
    "Soudeur",
    "Échafaudeur",
    "Peintre industriel",
    "Foreur",
    "Assistant foreur",
    "Chef de chantier",
    "Magasinier",
    "Technicien télécom",
    "Ingénieur électricien",
    "Inspecteur corrosion",
];

pub(crate) const COMPANY_STEMS: &[&str] = &[
    "Atlantique",
    "Équateur",
    "Océane",
    "Ogooué",
    "Kouilou",
    "Mayombe",
    "Estuaire",
    "Golfe",
    "Horizon",
    "Mistral",
    "Boréal",
    "Lagune",
    "Cap Lopez",
    "Nyanga",
    "Alizé",
    "Tropique",
];

pub(crate) const COMPANY_TRADES: &[(&str, &str)] = &[
    ("Services Maritimes", "supplier"),
    ("Hélicoptères", "supplier"),
    ("Maintenance Industrielle", "subcontractor"),
    ("Électricité Offshore", "subcontractor"),
    ("Restauration & Hôtellerie", "subcontractor"),
    ("Forage", "subcontractor"),
    ("Inspection & Contrôle", "subcontractor"),
    ("Échafaudage", "subcontractor"),
    ("Logistique Portuaire", "supplier"),
    ("Ingénierie", "partner"),
    ("Énergies", "client"),
    ("Télécom", "supplier"),
];

pub(crate) const CITIES: &[(&str, &str)] = &[
    ("Port-Gentil", "GA"),
    ("Libreville", "GA"),
    ("Pointe-Noire", "CG"),
    ("Pau", "FR"),
    ("Paris", "FR"),
    ("Marseille", "FR"),
    ("Bordeaux", "FR"),
    ("Douala", "CM"),
    ("Aberdeen", "GB"),
];

/// Electrical loads as an engineer lists them: description, typical rated kW range,
/// load factor (absorbed / rated), power factor, category.
pub(crate) const LOADS: &[(&str, f64, f64, f64, f64, &str)] = &[
    ("Pompe d'injection d'eau", 400.0, 1600.0, 0.82, 0.88, "continuous"),
    ("Compresseur de gaz", 800.0, 3200.0, 0.85, 0.90, "continuous"),
    ("Pompe d'export huile", 300.0, 1200.0, 0.80, 0.87, "continuous"),
    ("Pompe de transfert", 30.0, 150.0, 0.70, 0.85, "intermittent"),
    ("Ventilateur HVAC", 15.0, 90.0, 0.75, 0.84, "continuous"),
    ("Groupe froid quartiers-vie", 60.0, 250.0, 0.70, 0.86, "continuous"),
    ("Éclairage zone process", 10.0, 40.0, 0.95, 0.95, "continuous"),
    ("Grue de pont", 150.0, 400.0, 0.45, 0.80, "intermittent"),
    ("Pompe incendie électrique", 250.0, 700.0, 0.85, 0.88, "standby"),
    ("Compresseur d'air instrument", 45.0, 160.0, 0.78, 0.86, "continuous"),
    ("Dessalinisateur", 40.0, 180.0, 0.75, 0.85, "continuous"),
    ("Cuisine quartiers-vie", 40.0, 120.0, 0.55, 0.97, "intermittent"),
    ("Chargeur batteries UPS", 20.0, 80.0, 0.60, 0.92, "continuous"),
    ("Réchauffeur électrique", 100.0, 500.0, 0.70, 0.99, "intermittent"),
    ("Pompe de cale", 10.0, 45.0, 0.80, 0.83, "standby"),
    ("Treuil", 75.0, 300.0, 0.40, 0.82, "intermittent"),
];

pub(crate) fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    *pick_ref(rng, items)
}

/// Like [`pick`], for items that are not `Copy`.
pub(crate) fn pick_ref<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    // Every list passed here is a non-empty constant or a non-empty generated list;
    // indexing the first item keeps an empty one from going unnoticed in the tests.
    items.choose(rng).unwrap_or(&items[0])
}

/// Picks from `(item, weight)` pairs.
pub(crate) fn pick_weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total);
    for (item, weight) in items {
        if ticket < *weight {
            return *item;
        }
        ticket -= weight;
    }
    items[items.len() - 1].0
}

/// A person's name, drawn from the lists above.
pub(crate) fn person(rng: &mut impl Rng) -> (&'static str, &'static str) {
    (pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES))
}

/// A UUID (version 4 layout) from the generator's random stream, so identifiers are as
/// deterministic as the rest of the data.
pub(crate) fn uuid(rng: &mut impl Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// Lowercase ASCII for e-mail addresses: accents dropped, spaces and quotes removed.
pub(crate) fn ascii_slug(text: &str) -> String {
    text.chars()
        .filter_map(|character| {
            let plain = match character {
                'à' | 'â' | 'ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
                'î' | 'ï' => 'i',
                'ô' | 'ö' => 'o',
                'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                other => other,
            };
            plain.is_ascii_alphanumeric().then(|| plain.to_ascii_lowercase())
        })
        .collect()
}
