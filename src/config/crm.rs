//! `[crm]`: the target CRM, by `kind`. Each kind's keys are one struct in its own module
//! (`crm/rest.rs`, …); [`CrmSettings`] is the tagged enum of them, declared once by
//! `crm_kinds!` below. Adding a kind is its module and one line there.
//!
//! Reading `[crm]` (see [`read`]): `kind` (default `rest`) picks the struct; the
//! `CRM_API_KEY` alias becomes the kind's credential when the kind names it otherwise; a key of
//! another kind is an error from the file but only a warning (and ignored) from the
//! environment, which is often shared between deployments; a key no kind knows is an error
//! with the closest known key. Then the kind's struct is deserialized, key errors and all.
//!
//! Invariant: a [`CrmSettings`] value holds exactly the keys of its kind, validated.

mod hubspot;
mod jsonl;
mod pipedrive;
mod rest;
mod salesforce;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::Value;

pub use hubspot::HubSpotCrmSettings;
pub use jsonl::JsonlCrmSettings;
pub use pipedrive::PipedriveCrmSettings;
pub use rest::RestCrmSettings;
pub use salesforce::SalesforceCrmSettings;

use super::de::{DeError, Node, quoted};
use super::defaults;
use super::error::Origin;
use super::keys::field_names;
use super::loading::Loading;
use super::redact::shown;
use super::sources::{CRM_KEY_ALIAS, env_var};

/// Declares [`CrmSettings`] and [`KINDS`] from one list: `"name" => Variant(SettingsStruct)`.
macro_rules! crm_kinds {
    ($($(#[doc = $doc:literal])* $name:literal => $variant:ident($settings:ty),)*) => {
        /// `[crm]`: the target, by `kind`.
        #[derive(Debug, Clone, Serialize)]
        #[serde(tag = "kind")]
        pub enum CrmSettings {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant($settings),)*
        }

        impl CrmSettings {
            /// The `crm.kind` value of these settings (`"rest"`, `"jsonl"`…), e.g. for the
            /// `crm.kind` log field.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(CrmSettings::$variant(_) => $name,)*
                }
            }
        }

        impl CrmSettings {
            /// `crm.batch_linger` of a kind that batches its writes (`None` for the others).
            pub fn batch_linger_mut(&mut self) -> Option<&mut std::time::Duration> {
                match self {
                    CrmSettings::HubSpot(settings) => Some(&mut settings.batch_linger),
                    CrmSettings::Salesforce(settings) => Some(&mut settings.batch_linger),
                    _ => None,
                }
            }
        }

        /// Every kind, in the order `crm.kind` errors list them.
        pub(super) const KINDS: &[Kind] = &[$(Kind {
            name: $name,
            credential: <$settings as CrmKind>::CREDENTIAL,
            keys: field_names::<$settings>,
            prepare: <$settings as CrmKind>::prepare,
            read: |node| <$settings>::deserialize(node).map(CrmSettings::$variant),
        },)*];
    };
}

crm_kinds! {
    /// `kind = "rest"`: the generic REST contract.
    "rest" => Rest(RestCrmSettings),
    /// `kind = "jsonl"`: dry run, one JSON line per write appended to a file.
    "jsonl" => Jsonl(JsonlCrmSettings),
    /// `kind = "hubspot"`: HubSpot meetings.
    "hubspot" => HubSpot(HubSpotCrmSettings),
    /// `kind = "salesforce"`: Salesforce Events.
    "salesforce" => Salesforce(SalesforceCrmSettings),
    /// `kind = "pipedrive"`: Pipedrive activities (API v2).
    "pipedrive" => Pipedrive(PipedriveCrmSettings),
}

/// What a kind's settings struct tells the loader besides its fields.
pub(super) trait CrmKind: DeserializeOwned {
    /// The key holding the kind's credential, which `CRM_API_KEY` sets when the file and the
    /// `CALSYNC__` variables do not (`None`: the kind has none).
    const CREDENTIAL: Option<&'static str>;

    /// Before deserializing: derives keys whose default depends on other keys (and checks the
    /// keys that only make sense together). Most kinds have none.
    fn prepare(_table: &mut KindTable<'_>) {}
}

/// A CRM kind: its name and how its settings are read.
pub(super) struct Kind {
    /// The `crm.kind` value.
    pub name: &'static str,
    /// See [`CrmKind::CREDENTIAL`].
    pub credential: Option<&'static str>,
    /// The fields of its settings struct (`contacts` stands for the contact-linking keys).
    keys: fn() -> &'static [&'static str],
    /// See [`CrmKind::prepare`].
    prepare: fn(&mut KindTable<'_>),
    /// Deserializes `[crm]` (without `kind`) into the kind's variant.
    read: fn(Node) -> Result<CrmSettings, DeError>,
}

impl Kind {
    /// The keys users write for this kind (`kind` aside).
    pub fn user_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        for key in (self.keys)() {
            match *key {
                CONTACTS => keys.extend(field_names::<ContactLinking>()),
                key => keys.push(key),
            }
        }
        keys
    }

    fn links_contacts(&self) -> bool {
        (self.keys)().contains(&CONTACTS)
    }
}

/// Whose meeting it is in the CRM (`crm.owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerRule {
    /// `organizer` (default): the organizer, when a colleague; else the calendar's owner.
    #[default]
    Organizer,
    /// `grant`: the owner of the calendar the event was read from.
    Grant,
    /// `none`: no owner is set (the CRM's default applies).
    None,
}

impl CrmSettings {
    /// `crm.owner` (`organizer` for kinds without the key).
    pub fn owner(&self) -> OwnerRule {
        match self {
            CrmSettings::Rest(rest) => rest.owner,
            CrmSettings::HubSpot(hubspot) => hubspot.owner,
            CrmSettings::Salesforce(salesforce) => salesforce.owner,
            CrmSettings::Pipedrive(pipedrive) => pipedrive.owner,
            CrmSettings::Jsonl(_) => OwnerRule::default(),
        }
    }
}

/// The field holding [`ContactLinking`]; its keys are written directly under `[crm]`.
const CONTACTS: &str = "contacts";

/// Linking attendees to CRM contacts (`hubspot`, `salesforce`, `pipedrive`): the keys
/// `crm.link_contacts` and `crm.create_missing_contacts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContactLinking {
    /// `link_contacts`, default true: link the meeting to the contacts of its attendees.
    #[serde(default = "defaults::crm::link_contacts")]
    pub link_contacts: bool,
    /// `create_missing_contacts`, default false: create a contact for an unknown attendee.
    #[serde(default = "defaults::crm::create_missing_contacts")]
    pub create_missing_contacts: bool,
}

impl Default for ContactLinking {
    fn default() -> Self {
        ContactLinking {
            link_contacts: defaults::crm::link_contacts(),
            create_missing_contacts: defaults::crm::create_missing_contacts(),
        }
    }
}

/// Every `[crm]` key of every kind (`kind` aside), each once.
pub(super) fn all_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = KINDS.iter().flat_map(Kind::user_keys).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// `[crm]` of one kind while it is read: what `prepare` hooks use.
pub(super) struct KindTable<'a> {
    loading: &'a mut Loading,
    kind: &'static Kind,
}

impl KindTable<'_> {
    /// The text at `crm.<key>`, if it is set to text.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.loading.tree.get(&format!("crm.{key}"))? {
            Value::String(text) => Some(text.trim().to_owned()),
            _ => None,
        }
    }

    /// Whether `crm.<key>` is set.
    pub fn is_set(&self, key: &str) -> bool {
        self.loading.tree.is_set(&format!("crm.{key}"))
    }

    /// Sets `crm.<key>` to a value derived from `crm.<from>` (and reported as coming from it).
    pub fn derive(&mut self, key: &str, value: String, from: &str) {
        let origin = self.loading.tree.origin(&format!("crm.{from}"));
        let tree = &mut self.loading.tree;
        tree.set(&format!("crm.{key}"), Value::String(value), origin);
    }

    /// Reports that `crm.<key>` cannot be used, and drops it.
    pub fn invalid(&mut self, key: &str, problem: &str) {
        let key = format!("crm.{key}");
        self.loading.invalid(&key, problem.to_owned());
        self.loading.tree.remove(&key);
    }

    /// Reports that `crm.<key>` is required (`unless`: what else would do).
    pub fn missing(&mut self, key: &str, unless: &str) {
        let key = format!("crm.{key}");
        let when = format!(" when crm.kind = \"{}\"{unless}", self.kind.name);
        self.loading.missing(&key, when, env_var(&key));
    }

    /// Sets a placeholder at `crm.<key>`, which another problem (already reported) leaves
    /// without a value, so that the other keys are still checked.
    pub fn placeholder(&mut self, key: &str) {
        self.loading.placeholder(&format!("crm.{key}"));
    }
}

/// Reads `[crm]`; `None` when it has errors (reported to `loading`).
pub(super) fn read(loading: &mut Loading) -> Option<CrmSettings> {
    if let Some(other) = loading.tree.get("crm").filter(|crm| !crm.is_table()) {
        let found = other.type_str();
        loading.invalid("crm", format!("expected a table of keys, found {found}"));
        return None;
    }
    let kind = kind(loading)?;
    loading.tree.remove("crm.kind");
    credential_alias(loading, kind);
    check_keys(loading, kind);
    if kind.links_contacts() {
        for key in field_names::<ContactLinking>() {
            let written = format!("crm.{key}");
            loading
                .tree
                .rename(&written, &format!("crm.{CONTACTS}.{key}"));
        }
    }
    (kind.prepare)(&mut KindTable { loading, kind });
    let when = format!(" when crm.kind = \"{}\"", kind.name);
    loading.read("crm", &when, kind.credential, kind.read)
}

/// The kind `crm.kind` names (default `rest`).
fn kind(loading: &mut Loading) -> Option<&'static Kind> {
    let name = match loading.tree.get("crm.kind") {
        None => return KINDS.first(),
        Some(Value::String(name)) => name.trim().to_owned(),
        Some(other) => {
            let found = other.type_str();
            loading.invalid("crm.kind", format!("expected text, found {found}"));
            return None;
        }
    };
    let found = KINDS.iter().find(|kind| kind.name == name);
    if found.is_none() {
        let names: Vec<&str> = KINDS.iter().map(|kind| kind.name).collect();
        let names = quoted(&names);
        let name = shown(&name);
        let problem = format!("invalid value {name:?}, expected one of {names}");
        loading.invalid("crm.kind", problem);
    }
    found
}

/// `CRM_API_KEY` sets `crm.api_key`; for a kind whose credential has another name, it becomes
/// that credential, unless the credential is set another way.
fn credential_alias(loading: &mut Loading, kind: &Kind) {
    const ALIASED: &str = "crm.api_key";
    let Some(credential) = kind.credential else {
        return;
    };
    let key = format!("crm.{credential}");
    let from_alias = loading.tree.origin(ALIASED) == Origin::Env(CRM_KEY_ALIAS.to_owned());
    if key != ALIASED && from_alias && !loading.tree.is_set(&key) {
        loading.tree.rename(ALIASED, &key);
    }
}

/// Drops the keys `kind` does not use: another kind's key is an error from the file and a
/// warning from the environment; a key no kind has is an error naming the closest key.
fn check_keys(loading: &mut Loading, kind: &Kind) {
    let used = kind.user_keys();
    let known = all_keys();
    for name in loading.tree.keys_of("crm") {
        if used.contains(&name.as_str()) {
            continue;
        }
        let key = format!("crm.{name}");
        if known.contains(&name.as_str()) {
            loading.unused(&key, kind.name);
        } else {
            let candidates = used.iter().chain(&known).map(|name| format!("crm.{name}"));
            let candidates: Vec<String> = candidates.collect();
            loading.unknown(&key, candidates.iter().map(String::as_str));
        }
        loading.tree.remove(&key);
    }
}
