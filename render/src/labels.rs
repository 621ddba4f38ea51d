//! What people read instead of the codes the operational schema stores: one table of
//! labels per locale for every value of the schema's CHECK lists (severities, states,
//! kinds, categories…) and for the column and dimension names shown as headers. The web
//! pages and every document writer read it; exports for machines keep the codes.

use crate::Locale;

/// A label in each locale; `en_us` only where American usage differs from British.
#[derive(Debug, Clone, Copy)]
struct Label {
    fr: &'static str,
    en_gb: &'static str,
    en_us: Option<&'static str>,
}

const fn label(fr: &'static str, en_gb: &'static str) -> Label {
    Label { fr, en_gb, en_us: None }
}

const fn label_us(fr: &'static str, en_gb: &'static str, en_us: &'static str) -> Label {
    Label { fr, en_gb, en_us: Some(en_us) }
}

impl Label {
    fn text(&self, locale: Locale) -> &'static str {
        match locale {
            Locale::FrFr => self.fr,
            Locale::EnGb => self.en_gb,
            Locale::EnUs => self.en_us.unwrap_or(self.en_gb),
        }
    }
}

/// Every stored code, whatever its column: the schema gives one code one meaning.
const VALUES: &[(&str, Label)] = &[
    // core.sites.kind
    ("offshore_platform", label("Plateforme en mer", "Offshore platform")),
    ("fpso", label("FPSO", "FPSO")),
    ("onshore_base", label("Base à terre", "Onshore base")),
    ("drilling_rig", label("Appareil de forage", "Drilling rig")),
    // tiers.companies.kind
    ("client", label("Client", "Client")),
    ("supplier", label("Fournisseur", "Supplier")),
    ("partner", label("Partenaire", "Partner")),
    ("subcontractor", label("Sous-traitant", "Subcontractor")),
    // planning blocks
    ("reservation", label("Réservation", "Reservation")),
    ("milestone", label("Jalon", "Milestone")),
    // redacteur.documents.kind
    ("document", label("Document", "Document")),
    ("template", label("Modèle", "Template")),
    // statuses across modules
    ("draft", label("Brouillon", "Draft")),
    ("pending", label("En attente", "Pending")),
    ("requested", label("Demandé", "Requested")),
    ("submitted", label("Soumis", "Submitted")),
    ("in_evaluation", label("En évaluation", "In evaluation")),
    ("in_validation", label("En validation", "In validation")),
    ("in_review", label("En relecture", "In review")),
    ("approved", label("Approuvé", "Approved")),
    ("confirmed", label("Confirmé", "Confirmed")),
    ("rejected", label("Rejeté", "Rejected")),
    ("refused", label("Refusé", "Refused")),
    ("cancelled", label_us("Annulé", "Cancelled", "Canceled")),
    ("planned", label("Planifié", "Planned")),
    ("active", label("Actif", "Active")),
    ("on_hold", label("En pause", "On hold")),
    ("todo", label("À faire", "To do")),
    ("open", label("Ouvert", "Open")),
    ("in_progress", label("En cours", "In progress")),
    ("blocked", label("Bloqué", "Blocked")),
    ("done", label("Fait", "Done")),
    ("completed", label("Terminé", "Completed")),
    ("in_implementation", label("En mise en œuvre", "In implementation")),
    ("implemented", label("Mis en œuvre", "Implemented")),
    ("closed", label("Clôturé", "Closed")),
    ("published", label("Publié", "Published")),
    ("archived", label("Archivé", "Archived")),
    ("reported", label("Déclaré", "Reported")),
    ("under_investigation", label("En enquête", "Under investigation")),
    ("actions_pending", label("Actions en attente", "Actions pending")),
    ("queued", label("En file d'attente", "Queued")),
    ("running", label("En marche", "Running")),
    ("succeeded", label("Réussi", "Succeeded")),
    ("failed", label("Échoué", "Failed")),
    ("sending", label("En cours d'envoi", "Sending")),
    ("sent", label("Envoyé", "Sent")),
    ("late", label("En retard", "Late")),
    // projects.budget_lines.category
    ("labour", label_us("Main-d'œuvre", "Labour", "Labor")),
    ("equipment", label("Équipement", "Equipment")),
    // powertrace.scenario_items.subject (with equipment above)
    ("generator", label("Groupe électrogène", "Generator")),
    ("transformer", label("Transformateur", "Transformer")),
    ("factors", label("Facteurs de charge", "Load factors")),
    ("materials", label("Matériaux", "Materials")),
    ("services", label("Services", "Services")),
    ("logistics", label("Logistique", "Logistics")),
    ("other", label("Autre", "Other")),
    // organizer.resources.kind
    ("vehicle", label("Véhicule", "Vehicle")),
    ("room", label("Salle", "Room")),
    ("tool", label("Outil", "Tool")),
    // pob.personnel.rotation_pattern
    ("day", label("Personnel de jour", "Day worker")),
    // travel.vehicles.kind
    ("vessel", label("Navire", "Vessel")),
    ("helicopter", label("Hélicoptère", "Helicopter")),
    // fuel types (travel.fuel_logs, powertrace.generators)
    ("jet_a1", label("Jet A-1", "Jet A-1")),
    ("marine_gasoil", label("Gasoil marine", "Marine gas oil")),
    ("diesel", label("Gazole", "Diesel")),
    ("gas", label("Gaz", "Gas")),
    ("dual_fuel", label("Bicarburant", "Dual fuel")),
    // moc.requests.category and risk_level
    ("process", label("Procédé", "Process")),
    ("organisation", label_us("Organisation", "Organisation", "Organization")),
    ("procedure", label("Procédure", "Procedure")),
    ("software", label("Logiciel", "Software")),
    ("temporary", label("Temporaire", "Temporary")),
    ("low", label("Faible", "Low")),
    ("medium", label("Moyen", "Medium")),
    ("high", label("Élevé", "High")),
    ("critical", label("Critique", "Critical")),
    // moc.impact_assessments.domain
    ("safety", label("Sécurité", "Safety")),
    ("environment", label("Environnement", "Environment")),
    ("operations", label("Exploitation", "Operations")),
    ("cost", label("Coût", "Cost")),
    ("regulatory", label("Réglementaire", "Regulatory")),
    // cleanvue.audit_scores.criterion
    ("seiri", label("Seiri (trier)", "Seiri (sort)")),
    ("seiton", label("Seiton (ranger)", "Seiton (set in order)")),
    ("seiso", label("Seiso (nettoyer)", "Seiso (shine)")),
    ("seiketsu", label_us("Seiketsu (standardiser)", "Seiketsu (standardise)", "Seiketsu (standardize)")),
    ("shitsuke", label("Shitsuke (maintenir)", "Shitsuke (sustain)")),
    // powertrace.generators.status, equipment.load_category, scenario_items.action
    ("standby", label("Secours", "Standby")),
    ("maintenance", label("Maintenance", "Maintenance")),
    ("out_of_service", label("Hors service", "Out of service")),
    ("continuous", label("Continue", "Continuous")),
    ("intermittent", label("Intermittente", "Intermittent")),
    ("add", label("Ajout", "Addition")),
    ("remove", label("Retrait", "Removal")),
    ("modify", label("Modification", "Change")),
    // hse.incidents.severity, category
    ("near_miss", label("Presque-accident", "Near miss")),
    ("first_aid", label("Premiers soins", "First aid")),
    ("medical_treatment", label("Soins médicaux", "Medical treatment")),
    ("lost_time", label("Arrêt de travail", "Lost time")),
    ("fatality", label("Accident mortel", "Fatality")),
    ("slip_trip_fall", label("Glissade, trébuchement, chute", "Slip, trip, fall")),
    ("dropped_object", label("Chute d'objet", "Dropped object")),
    ("process_safety", label("Sécurité des procédés", "Process safety")),
    ("electrical", label("Électrique", "Electrical")),
    ("lifting", label("Levage", "Lifting")),
    ("environmental", label("Environnemental", "Environmental")),
    // PowerTrace checks, recommendations and load-list figures
    ("n1_overload", label("Surcharge N-1", "N-1 overload")),
    ("n2_overload", label("Surcharge N-2", "N-2 overload")),
    ("running_load_factor", label("Taux de charge en service", "Running load factor")),
    ("transformer_overload", label("Surcharge de transformateur", "Transformer overload")),
    ("power_factor", label("Facteur de puissance", "Power factor")),
    ("shed", label("Délestage", "Load shedding")),
    ("power_factor_correction", label("Compensation d'énergie réactive", "Power-factor correction")),
    ("connected_kw", label("Puissance raccordée (kW)", "Connected load (kW)")),
    ("demand_kw", label("Demande maximale (kW)", "Maximum demand (kW)")),
    ("demand_kva", label("Demande maximale (kVA)", "Maximum demand (kVA)")),
    ("installed_kva", label("Production installée (kVA)", "Installed generation (kVA)")),
    ("available_kw", label("Production disponible (kW)", "Available generation (kW)")),
    ("n1_kw", label("Capacité N-1 (kW)", "N-1 capacity (kW)")),
    ("n2_kw", label("Capacité N-2 (kW)", "N-2 capacity (kW)")),
    ("n1_loading", label("Charge sur N-1", "Loading of N-1")),
    // platform alerts and schedules
    ("refresh", label("Actualisation", "Refresh")),
    ("schedule", label("Programmation", "Schedule")),
    ("manual", label("Manuel", "Manual")),
    ("started", label("Déclenchée", "Started")),
    ("cleared", label("Levée", "Cleared")),
];

/// Column and dimension names shown as headers or legends.
const COLUMNS: &[(&str, Label)] = &[
    ("period", label("Période", "Period")),
    ("day", label("Jour", "Day")),
    ("site", label("Site", "Site")),
    ("switchboard", label("Tableau", "Switchboard")),
    ("meter", label("Compteur", "Meter")),
    ("vehicle_type", label("Type de véhicule", "Vehicle type")),
    ("vehicle", label("Véhicule", "Vehicle")),
    ("trip", label("Voyage", "Trip")),
    ("leg", label("Tronçon", "Leg")),
    ("severity", label("Gravité", "Severity")),
    ("category", label("Catégorie", "Category")),
    ("state", label("État", "State")),
    ("status", label("Statut", "Status")),
    ("risk_level", label("Niveau de risque", "Risk level")),
    ("role", label("Rôle", "Role")),
    ("lateness", label("Retard", "Lateness")),
    ("zone", label("Zone", "Zone")),
    ("kind", label("Type", "Type")),
    ("resource", label("Ressource", "Resource")),
    ("company", label("Entreprise", "Company")),
    ("contact", label("Contact", "Contact")),
    ("project", label("Projet", "Project")),
    ("task", label("Tâche", "Task")),
    ("due", label("Échéance", "Due")),
    ("percent", label("Avancement", "Progress")),
    ("load_category", label("Catégorie de charge", "Load category")),
    ("fuel_type", label("Carburant", "Fuel")),
    ("job_title", label("Fonction", "Job title")),
    ("email", label("Courriel", "Email")),
    ("phone", label("Téléphone", "Phone")),
    ("city", label("Ville", "City")),
    ("country", label("Pays", "Country")),
    ("name", label("Nom", "Name")),
    ("label", label("Libellé", "Label")),
    ("start", label("Début", "Start")),
    ("end", label("Fin", "End")),
    // PowerTrace forecasts and scenarios
    ("at", label("Date et heure", "Date and time")),
    ("forecast", label("Prévision (kW)", "Forecast (kW)")),
    ("lower_80", label("Bas 80 % (kW)", "Lower 80 % (kW)")),
    ("upper_80", label("Haut 80 % (kW)", "Upper 80 % (kW)")),
    ("lower_95", label("Bas 95 % (kW)", "Lower 95 % (kW)")),
    ("upper_95", label("Haut 95 % (kW)", "Upper 95 % (kW)")),
    ("added", label("Charge ajoutée (kW)", "Added load (kW)")),
    ("capacity", label("Capacité N-1 (kW)", "N-1 capacity (kW)")),
    ("figure", label("Grandeur", "Figure")),
    ("baseline", label("Référence", "Baseline")),
    ("scenario", label("Scénario", "Scenario")),
    ("unit", label("Unité", "Unit")),
    ("subject", label("Objet", "Subject")),
    ("action", label("Action", "Action")),
    ("tag", label("Repère", "Tag")),
    ("description", label("Désignation", "Description")),
    ("kw", label("Puissance absorbée (kW)", "Absorbed power (kW)")),
    ("kva", label("Puissance assignée (kVA)", "Rating (kVA)")),
    ("quantity", label("Quantité", "Quantity")),
    ("baseline_kw", label("Référence (kW)", "Baseline (kW)")),
    ("scenario_kw", label("Scénario (kW)", "Scenario (kW)")),
    ("change_kw", label("Écart (kW)", "Change (kW)")),
    ("baseline_kva", label("Référence (kVA)", "Baseline (kVA)")),
    ("scenario_kva", label("Scénario (kVA)", "Scenario (kVA)")),
    ("check", label("Contrôle", "Check")),
    ("value", label("Valeur", "Value")),
    ("limit", label("Limite", "Limit")),
    ("recommendation", label("Recommandation", "Recommendation")),
    ("amount", label("Quantité recommandée", "Amount")),
    ("tags", label("Repères", "Tags")),
];

fn find(table: &[(&str, Label)], code: &str) -> Option<Label> {
    table.iter().find(|(known, _)| *known == code).map(|(_, label)| *label)
}

/// The label of a stored code, if the schema knows it.
pub fn value(locale: Locale, code: &str) -> Option<&'static str> {
    find(VALUES, code).map(|label| label.text(locale))
}

/// The label of a stored code, or the text itself when it is not a code (a name, a site).
pub fn value_or_text(locale: Locale, text: &str) -> String {
    value(locale, text).map_or_else(|| text.to_owned(), str::to_owned)
}

/// The header of a column or dimension, if it has one.
pub fn column(locale: Locale, name: &str) -> Option<&'static str> {
    find(COLUMNS, name).map(|label| label.text(locale))
}

/// Every code with a label, for checks that no code reaches a reader.
pub fn codes() -> impl Iterator<Item = &'static str> {
    VALUES.iter().map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_labels_in_each_locale_and_other_text_is_left_alone() {
        assert_eq!(value(Locale::FrFr, "near_miss"), Some("Presque-accident"));
        assert_eq!(value(Locale::EnGb, "near_miss"), Some("Near miss"));
        assert_eq!(value(Locale::EnUs, "cancelled"), Some("Canceled"));
        assert_eq!(value(Locale::EnGb, "cancelled"), Some("Cancelled"));
        assert_eq!(value_or_text(Locale::FrFr, "helicopter"), "Hélicoptère");
        assert_eq!(value_or_text(Locale::FrFr, "ALPHA"), "ALPHA");
        assert_eq!(column(Locale::FrFr, "switchboard"), Some("Tableau"));
        assert_eq!(column(Locale::EnUs, "vehicle_type"), Some("Vehicle type"));
        assert_eq!(column(Locale::FrFr, "energy_kwh"), None);
    }

    #[test]
    fn each_code_and_column_is_listed_once() {
        for table in [VALUES, COLUMNS] {
            let mut names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(names.len(), before, "a code listed twice");
        }
    }

    /// The codes of every `CHECK (column IN (...))` of the migrations, but those that are
    /// not words (locales, file formats, operators, rotation patterns such as `14/14`).
    fn schema_codes() -> Vec<String> {
        let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut codes = Vec::new();
        for entry in std::fs::read_dir(directory).unwrap() {
            let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for check in sql.split("CHECK (").skip(1) {
                let Some((column, rest)) = check.split_once(" IN (") else { continue };
                if ["locale", "output_format", "operator"].contains(&column) {
                    continue;
                }
                let list = rest.split(')').next().unwrap_or_default();
                for code in list.split(',') {
                    let code = code.trim().trim_matches('\'');
                    if !code.contains('/') && !codes.iter().any(|known| known == code) {
                        codes.push(code.to_owned());
                    }
                }
            }
        }
        codes
    }

    #[test]
    fn every_code_of_the_schema_has_a_label_in_every_locale() {
        let codes = schema_codes();
        assert!(codes.len() > 80, "{codes:?}");
        let missing: Vec<&String> = codes.iter().filter(|code| value(Locale::FrFr, code).is_none()).collect();
        assert!(missing.is_empty(), "codes without a label: {missing:?}");
        for locale in [Locale::FrFr, Locale::EnGb, Locale::EnUs] {
            for code in &codes {
                let text = value(locale, code).unwrap();
                assert!(text != code.as_str() && text.chars().next().is_some_and(char::is_uppercase), "{code}: {text}");
            }
        }
    }
}
